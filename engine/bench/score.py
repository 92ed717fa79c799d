"""Scoring of prediction files (JSON Lines) against a closed benchmark file.

Two line formats are read: ``{"id", "q_index", "output"}`` with the raw model text, which
the letter parser reads, and the published per-question files ``preds_*.jsonl`` with a
``pred`` letter already extracted (and ``gt``, which must agree with the benchmark).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from engine.bench.metrics import (ANSWERED, MISSING, UNPARSED, ClosedRecord, closed_record,
                                  compute_closed_metrics)
from engine.bench.parser import UNPARSED_EMPTY, UNPARSED_INVALID, parse_answer
from engine.bench.questions import ClosedQuestion
from engine.errors import InvalidInputError

OUTPUT_FORMAT = "output"
PRED_FORMAT = "pred"
FORMATS = ("auto", OUTPUT_FORMAT, PRED_FORMAT)
# Parse rule stored for a letter taken from a published prediction file.
IMPORTED_LETTER = "imported-letter"


@dataclass(frozen=True, slots=True)
class Prediction:
    """One prediction line of file ``source``. ``text`` is the raw model output (format
    ``output``) or the published letter (format ``pred``). ``gt`` is the published gold
    letter, if any."""

    item_id: int
    q_index: int
    line_format: str
    text: str | None
    gt: str | None
    line: int
    source: str = "predictions"


@dataclass(frozen=True, slots=True)
class ScoredQuestion:
    """A question's record, the parse rule that decided it and the prediction's text (both
    None when the prediction is missing)."""

    question: ClosedQuestion
    record: ClosedRecord
    rule: str | None
    text: str | None


def load_predictions(path: str | Path, line_format: str = "auto") -> tuple[list[Prediction], str]:
    """Read a prediction file; return the predictions and the format used.

    ``auto`` picks ``output`` or ``pred`` from the first line. Raises InvalidInputError with
    the file and line number for a line that is not a valid prediction.
    """
    if line_format not in FORMATS:
        raise InvalidInputError(f"unknown prediction format {line_format!r}; use one of "
                                f"{', '.join(FORMATS)}")
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInputError(f"prediction file '{path}' not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"prediction file '{path}' is not readable: {error}") from None

    predictions: list[Prediction] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"'{path}' line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"line {number} of '{path}' is not valid JSON ({error.msg}); "
                                    "each line must be one JSON object") from None
        if line_format == "auto":
            line_format = _detect_format(value, where)
        predictions.append(_prediction(value, line_format, where, number, str(path)))
    return predictions, (OUTPUT_FORMAT if line_format == "auto" else line_format)


def _detect_format(value: object, where: str) -> str:
    if isinstance(value, dict) and "output" in value:
        return OUTPUT_FORMAT
    if isinstance(value, dict) and "pred" in value:
        return PRED_FORMAT
    raise InvalidInputError(f"{where} has neither 'output' (raw model text) nor 'pred' "
                            "(a letter); each line needs id, q_index and one of them")


def _prediction(value: object, line_format: str, where: str, number: int,
                source: str) -> Prediction:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where} is not a JSON object")
    item_id, q_index = value.get("id"), value.get("q_index")
    for name, field in (("id", item_id), ("q_index", q_index)):
        if not isinstance(field, int) or isinstance(field, bool):
            raise InvalidInputError(f"{where} has {name} {field!r}; it must be an integer")
    field_name = OUTPUT_FORMAT if line_format == OUTPUT_FORMAT else PRED_FORMAT
    if field_name not in value:
        raise InvalidInputError(f"{where} has no '{field_name}' field; all lines of a file "
                                "must have the same format")
    text = value[field_name]
    if text is not None and not isinstance(text, str):
        raise InvalidInputError(f"{where} has {field_name} {text!r}; it must be a string or null")
    gt = value.get("gt")
    if gt is not None and not isinstance(gt, str):
        raise InvalidInputError(f"{where} has gt {gt!r}; it must be a letter")
    return Prediction(item_id, q_index, line_format, text, gt, number, source)


def score_predictions(questions: Iterable[ClosedQuestion],
                      predictions: Iterable[Prediction]) -> list[ScoredQuestion]:
    """Score every question, in question order. A question without a prediction is missing.

    Raises InvalidInputError for a prediction of an unknown question, a repeated prediction,
    or a published ``gt`` that disagrees with the benchmark's answer.
    """
    questions = list(questions)
    by_key = {question.key: question for question in questions}
    predicted: dict[tuple[int, int], Prediction] = {}
    for prediction in predictions:
        key = (prediction.item_id, prediction.q_index)
        where = f"'{prediction.source}' line {prediction.line}"
        question = by_key.get(key)
        if question is None:
            raise InvalidInputError(f"{where}: the benchmark has no question with id "
                                    f"{prediction.item_id} and q_index {prediction.q_index}; "
                                    "check that the predictions were made on this benchmark "
                                    "file")
        if key in predicted:
            raise InvalidInputError(f"{where} repeats id {prediction.item_id} q_index "
                                    f"{prediction.q_index} (first on line "
                                    f"{predicted[key].line}); keep one prediction per question")
        if prediction.gt is not None and prediction.gt.strip().upper() != question.gold:
            raise InvalidInputError(
                f"{where} has gt {prediction.gt!r} but the benchmark's answer to id "
                f"{prediction.item_id} q_index {prediction.q_index} is {question.gold}; "
                "the predictions were made on another benchmark file")
        predicted[key] = prediction
    return [_score(question, predicted.get(question.key)) for question in questions]


def _score(question: ClosedQuestion, prediction: Prediction | None) -> ScoredQuestion:
    if prediction is None:
        return ScoredQuestion(question, closed_record(question, None, MISSING), None, None)
    if prediction.line_format == PRED_FORMAT:
        letter, rule = _imported_letter(prediction.text, question)
    else:
        parsed = parse_answer(prediction.text, question.options)
        letter, rule = parsed.letter, parsed.rule
    outcome = ANSWERED if letter is not None else UNPARSED
    record = closed_record(question, letter, outcome)
    return ScoredQuestion(question, record, rule, prediction.text)


def _imported_letter(pred: str | None, question: ClosedQuestion) -> tuple[str | None, str]:
    letter = (pred or "").strip().upper()
    if not letter:
        return None, UNPARSED_EMPTY
    if letter in question.options:
        return letter, IMPORTED_LETTER
    return None, UNPARSED_INVALID


def contract_summary(metrics: dict) -> dict:
    """Reduce full metrics to the ``neuroonco bench score --json`` summary."""

    def accuracy(group: dict | None) -> dict:
        if group is None:
            return {"total": 0, "correct": 0, "accuracy": None}
        return {key: group[key] for key in ("total", "correct", "accuracy")}

    overall = metrics["overall"]
    rejection = metrics["false_rejection"]
    return {
        "total": overall["total"],
        "correct": overall["correct"],
        "accuracy": overall["accuracy"],
        "unparsed": metrics["outcomes"][UNPARSED],
        "missing": metrics["outcomes"][MISSING],
        "by_type": {name: accuracy(group) for name, group in metrics["by_type"].items()},
        "trap": accuracy(metrics["trap"]),
        "binary": accuracy(metrics["by_option_count"].get("2")),
        "five_option": accuracy(metrics["by_option_count"].get("5")),
        "false_rejection": {key: rejection[key] for key in ("total", "count", "rate")},
    }


def summarise(scored: Iterable[ScoredQuestion], seed: int = 0, resamples: int = 1000) -> dict:
    """Return the full metrics of scored questions."""
    return compute_closed_metrics((item.record for item in scored), seed, resamples)
