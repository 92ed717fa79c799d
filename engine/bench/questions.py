"""Closed (multiple-choice) benchmark questions as plain records, read from the MM-NeuroOnco
closed-benchmark JSON: a list of ``{id, image_path, vqa_pairs: [...]}``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidInputError
from engine.io.benchmark import question_key_of

# The rejection option of five-option questions, always the last option in the released file.
REJECTION_LETTER = "E"
REJECTION_TEXT = "None of the above"

_LETTER_KEY = re.compile(r"[A-Z]")
# "<class>/<NN>_<modalities>[_mask]/<file>", NN being the source id (for example 08).
_SOURCE_FOLDER = re.compile(r"(\d+)_")


@dataclass(frozen=True)
class ClosedQuestion:
    """One multiple-choice question as prompted in one setting.

    ``options`` is the ordered ``{letter: text}`` mapping, ``gold`` the correct letter.
    ``is_trap`` marks rejection items, whose correct option was removed so that the gold
    answer is the rejection option; ``original_answer`` is the removed option's text.
    """

    item_id: int
    q_index: int
    question_type: str
    stem: str
    options: dict[str, str]
    gold: str
    is_trap: bool = False
    original_answer: str | None = None
    image_path: str = ""
    tumour_class: str | None = None
    source: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        """(item id, 0-based index in the item's ``vqa_pairs``)."""
        return (self.item_id, self.q_index)

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(self.options)

    @property
    def option_count(self) -> int:
        return len(self.options)


def tumour_class_of(image_path: str) -> str | None:
    """Return the class folder of a benchmark image path (``glioma/...`` gives ``glioma``)."""
    parts = image_path.split("/")
    return parts[0] if len(parts) > 1 and parts[0] else None


def source_of(image_path: str) -> str | None:
    """Return the two-digit source id of a benchmark image path (``glioma/16_t1_mask/x.png``
    gives ``16``), or None when the path does not follow the ``<class>/<NN>_...`` layout."""
    parts = image_path.split("/")
    if len(parts) < 3:
        return None
    match = _SOURCE_FOLDER.match(parts[1])
    return match.group(1) if match else None


def normalise_option_text(text: str) -> str:
    """Case-fold, treat ``_`` and ``-`` as spaces, collapse whitespace and drop surrounding
    punctuation, so that "Neuronal_tumor." and "neuronal tumor" compare equal."""
    text = text.casefold().replace("_", " ").replace("-", " ")
    text = " ".join(text.split())
    return text.strip(" .,;:!?\"'*`")


def is_rejection_text(text: str) -> bool:
    return normalise_option_text(text) == normalise_option_text(REJECTION_TEXT)


def load_closed_benchmark(path: str | Path) -> list[ClosedQuestion]:
    """Read a closed-benchmark JSON file into questions, in file order.

    Raises InvalidInputError naming the file, item and question when the file is not valid.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        raise InvalidInputError(f"benchmark file '{path}' not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInputError(f"benchmark file '{path}' is not readable JSON: {error}") from None
    return closed_questions_from_json(document, str(path))


def closed_questions_from_json(document: Any, name: str) -> list[ClosedQuestion]:
    """Turn a parsed closed-benchmark document into questions; ``name`` appears in errors."""
    if not isinstance(document, list):
        raise InvalidInputError(f"'{name}' is not a closed benchmark: expected a JSON list of "
                                "items with 'id', 'image_path' and 'vqa_pairs'")
    if question_key_of(document) == "qa_pairs":
        raise InvalidInputError(f"'{name}' is an open-question benchmark file (its items have "
                                "qa_pairs, not vqa_pairs); bench score reads closed "
                                "benchmark files only, so pass the closed file")
    questions: list[ClosedQuestion] = []
    seen_ids: set[int] = set()
    for position, item in enumerate(document):
        where = f"'{name}' item {position + 1}"
        if not isinstance(item, dict):
            raise InvalidInputError(f"{where} is not a JSON object")
        item_id = item.get("id")
        image_path = item.get("image_path")
        pairs = item.get("vqa_pairs")
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            raise InvalidInputError(f"{where} has no integer 'id'")
        if item_id in seen_ids:
            raise InvalidInputError(f"'{name}' has two items with id {item_id}; ids must be unique")
        seen_ids.add(item_id)
        if not isinstance(image_path, str) or not image_path:
            raise InvalidInputError(f"'{name}' item id {item_id} has no 'image_path'")
        if not isinstance(pairs, list):
            raise InvalidInputError(f"'{name}' item id {item_id} has no 'vqa_pairs' list")
        for q_index, pair in enumerate(pairs):
            questions.append(_question(pair, item_id, q_index, image_path, name))
    return questions


def _question(pair: Any, item_id: int, q_index: int, image_path: str, name: str) -> ClosedQuestion:
    where = f"'{name}' item id {item_id} question {q_index}"
    if not isinstance(pair, dict):
        raise InvalidInputError(f"{where} is not a JSON object")
    question_type = pair.get("question_type")
    stem = pair.get("question")
    options = pair.get("options")
    answer = pair.get("answer")
    if not isinstance(question_type, str) or not question_type:
        raise InvalidInputError(f"{where} has no 'question_type'")
    if not isinstance(stem, str):
        raise InvalidInputError(f"{where} has no 'question' text")
    if not isinstance(options, dict) or len(options) < 2:
        raise InvalidInputError(f"{where} needs an 'options' object with at least two letters")
    for letter, text in options.items():
        if not _LETTER_KEY.fullmatch(letter) or not isinstance(text, str):
            raise InvalidInputError(f"{where} has option {letter!r}; option keys must be single "
                                    "capital letters with text values")
    if not isinstance(answer, str) or answer.strip().upper() not in options:
        raise InvalidInputError(f"{where} has answer {answer!r}, which is not one of its "
                                f"options {', '.join(options)}")
    gold = answer.strip().upper()

    is_trap = pair.get("meta_trap", False)
    if not isinstance(is_trap, bool):
        raise InvalidInputError(f"{where} has meta_trap {is_trap!r}; use true or false")
    gold_is_rejection = is_rejection_text(options[gold])
    if is_trap and not gold_is_rejection:
        raise InvalidInputError(f"{where} is marked meta_trap but its answer {gold} is "
                                f"{options[gold]!r}, not {REJECTION_TEXT!r}")
    if gold_is_rejection and not is_trap:
        raise InvalidInputError(f"{where} has the answer {REJECTION_TEXT!r} but no "
                                "'meta_trap': true; mark rejection items with meta_trap")
    original = pair.get("meta_original_answer")

    return ClosedQuestion(
        item_id=item_id, q_index=q_index, question_type=question_type, stem=stem,
        options=dict(options), gold=gold, is_trap=is_trap,
        original_answer=original if isinstance(original, str) else None,
        image_path=image_path, tumour_class=tumour_class_of(image_path),
        source=source_of(image_path),
    )
