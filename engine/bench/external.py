"""External runs: published per-question prediction files imported as runs.

A file contains one JSON object a line, either a published ``preds_*.jsonl`` line with
``id``, ``q_index`` and an extracted ``pred`` letter (a ``gt`` letter, if present, must
agree with the benchmark), or our ``{"id", "q_index", "output"}`` line with raw model text,
which the letter parser reads. Predictions are scored in the rejection-aware setting (the
benchmark as released), which is the setting they were made in. Questions without a
prediction get no answer row, so the run's metrics count them as missing. The import is one
transaction: an invalid file leaves no run behind.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from db.models import Answer, Run
from db.session import Database
from engine import __version__
from engine.bench.answer_rows import GENERATE
from engine.bench.catalog import get_benchmark
from engine.bench.parser import PARSER_VERSION
from engine.bench.plan import CLOSED, load_plan
from engine.bench.runs import IMPORTED, MAX_NAME_LENGTH, unique_run_name
from engine.bench.score import load_predictions, score_predictions
from engine.bench.settings import REJECTION_AWARE
from engine.errors import InvalidInputError

_PREDS_TAG = re.compile(r"^preds_(.+)$")


def model_name_of(path: Path) -> str:
    """Return the model tag of a prediction file: ``preds_<tag>.jsonl`` gives ``<tag>``,
    any other file its name without the extension."""
    stem = path.name.split(".")[0]
    match = _PREDS_TAG.match(stem)
    return match.group(1) if match else stem


def import_predictions(db: Database, benchmark: str, predictions: str | Path,
                       name: str | None = None, model: str | None = None,
                       line_format: str = "auto") -> int:
    """Import a prediction file as an external run of ``benchmark``; return the run id.

    ``model`` defaults to the file's model tag. Raises InvalidInputError for an unreadable
    or invalid file (the error names the file and line), a prediction of a question the
    benchmark does not have, or a taken run name; NotFoundError for an unknown benchmark.
    """
    path = Path(predictions)
    loaded, used_format = load_predictions(path, line_format)
    model = model or model_name_of(path)
    with db.session() as session:
        benchmark_row = get_benchmark(session, benchmark)
        benchmark_id, sources = benchmark_row.id, list(benchmark_row.source_files or [])
        plan = load_plan(session, benchmark_id, REJECTION_AWARE, include_open=False)
    questions = [question for question in plan.questions if question.kind == CLOSED]
    question_ids = {question.closed.key: question.question_id for question in questions}
    scored = score_predictions([question.closed for question in questions], loaded)

    config = {
        "benchmark": benchmark, "benchmark_sources": sources, "model": model,
        "adapter": None, "model_record": None,
        "answerer": {"kind": "external", "predictions_file": str(path.resolve()),
                     "predictions_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "prediction_format": used_format, "lines": len(loaded)},
        "setting": REJECTION_AWARE, "mode": GENERATE, "seed": 0, "limit": None,
        "template_id": None, "template_version": None, "include_open": False,
        "questions": {CLOSED: len(questions), "open": 0}, "judge": None,
        "parser_version": PARSER_VERSION, "open_scores": None,
        "neuroonco_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with db.session(write=True) as session:
        run_name = _name(session, name, model, benchmark)
        run = Run(name=run_name, benchmark_id=benchmark_id, model_name=model,
                  setting=REJECTION_AWARE, mode=GENERATE, seed=0, config=config,
                  status=IMPORTED, external=True, finished_at=datetime.now(timezone.utc))
        session.add(run)
        session.flush()
        for item in scored:
            if item.rule is None:
                continue  # no prediction for this question
            session.add(Answer(
                run_id=run.id, question_id=question_ids[item.question.key],
                raw_output=item.text, parsed_letter=item.record.predicted, parse_rule=item.rule,
                is_correct=item.record.correct, provenance={"source": path.name}))
        return run.id


def _name(session, name: str | None, model: str, benchmark: str) -> str:  # noqa: ANN001
    if name is None:
        return unique_run_name(session, f"external:{model}@{benchmark}")
    name = name.strip()
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise InvalidInputError(f"run name {name!r} must have 1 to {MAX_NAME_LENGTH} characters")
    if session.scalar(select(Run.id).where(Run.name == name)) is not None:
        raise InvalidInputError(f"run name '{name}' is already used; choose another --name or "
                                f"delete that run with 'neuroonco bench delete-run {name}'")
    return name
