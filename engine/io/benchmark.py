"""Reading and validating MM-NeuroOnco benchmark JSON (the v1.0 closed and open schemas).

Closed file: a list of ``{id, image_path, vqa_pairs}``. Each pair has ``question_type``,
``question``, ``options`` (``{letter: text}``, keys ``A``, ``B``, ... in order; ``E``,
when present, is the last key and reads "None of the above") and ``answer`` (a letter
among the options). A trap (rejection) question has the correct option removed and adds
``meta_trap: true`` and ``meta_original_answer`` (the removed option's text); its answer
is ``E``.

Open file: a list of ``{id, image_path, qa_pairs}``; each pair has ``question_id``
(``<id>_q<k>``), ``question_type``, ``question``, ``reference_answer`` and
``eval_keywords`` (a list of strings, possibly empty). Every open item must match the
closed item with the same id and image path.

Validation is per item: an invalid item is recorded with its first problem, so the caller
can reject the file or import only the valid items. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.errors import InvalidInputError
from engine.io.benchmark_paths import OutsideRootError, image_path_problem, resolve_in_root
from engine.progress import NullProgress, Progress

NONE_OF_THE_ABOVE = "None of the above"
OPTION_LETTERS = "ABCDE"
# Column sizes of the question table.
MAX_QUESTION_TYPE = 32
MAX_QUESTION_ID = 64
MAX_ITEM_ID = 2**31 - 1
# Invalid item ids shown in an error message before "and N more".
SHOWN_INVALID_IDS = 5

CLOSED_ITEM_FIELDS = ("id", "image_path", "vqa_pairs")
CLOSED_QUESTION_FIELDS = ("question_type", "question", "options", "answer")
TRAP_FIELDS = ("meta_trap", "meta_original_answer")
OPEN_ITEM_FIELDS = ("id", "image_path", "qa_pairs")
OPEN_QUESTION_FIELDS = ("question_id", "question_type", "question", "reference_answer",
                        "eval_keywords")

# Characters ignored when options are compared for repeats. The slash is included because
# v1.0 offers "Irregular/spiculated" beside "Irregular spiculated" in one question.
_OPTION_SEPARATORS = re.compile(r"[\s\-_/]+")


@dataclass(frozen=True)
class ClosedQuestion:
    """A multiple-choice question; ``q_index`` is its 0-based position in ``vqa_pairs``."""

    q_index: int
    question_type: str
    stem: str
    options: dict[str, str]
    gold_letter: str
    is_trap: bool
    original_answer: str | None
    # Letters of options that repeat another option after normalising (see normalise_option).
    duplicate_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenQuestion:
    """An open question; ``q_index`` is its 0-based position in ``qa_pairs``."""

    q_index: int
    question_id: str
    question_type: str
    stem: str
    reference_answer: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class BenchmarkEntry:
    """One valid item of a closed or open file: an image and its questions."""

    item_id: int
    image_path: str
    questions: tuple[ClosedQuestion, ...] | tuple[OpenQuestion, ...]


@dataclass(frozen=True)
class InvalidItem:
    """An item rejected by validation: its id (or ``index N`` without a valid id) and why."""

    label: str
    problem: str


@dataclass
class BenchmarkFile:
    """A parsed benchmark file: ``role`` is ``closed`` or ``open``."""

    role: str
    path: Path
    sha256: str
    entries: list[BenchmarkEntry] = field(default_factory=list)
    invalid: list[InvalidItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.invalid)

    def source_record(self) -> dict[str, Any]:
        """Return the description of this file kept on the benchmark row."""
        return {"role": self.role, "path": str(self.path.resolve()), "sha256": self.sha256,
                "items": len(self.entries), "skipped_items": [bad.label for bad in self.invalid]}


class _ItemInvalid(Exception):
    """One problem of one item; caught per item so that the other items still parse."""


def normalise_option(text: str) -> str:
    """Return ``text`` lower-cased without spaces, hyphens, underscores and slashes."""
    return _OPTION_SEPARATORS.sub("", text.casefold())


def duplicate_option_letters(options: dict[str, str]) -> tuple[str, ...]:
    """Return the letters of options whose text repeats another option's after normalising."""
    groups: dict[str, list[str]] = defaultdict(list)
    for letter, text in options.items():
        groups[normalise_option(text)].append(letter)
    return tuple(sorted(letter for letters in groups.values() if len(letters) > 1
                        for letter in letters))


# --------------------------------------------------------------------------- files


def read_benchmark_json(path: Path, role: str) -> tuple[list[Any], str]:
    """Read a benchmark file; return its list of items and the sha256 of its bytes.

    Raises InvalidInputError when the file is missing, unreadable, not JSON, not a list
    or an empty list.
    """
    where = f"{role} benchmark file '{path}'"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{where} not found; check the path") from None
    except OSError as error:
        raise InvalidInputError(f"{where} cannot be read ({error.strerror}); check the path "
                                "and its permissions") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{where} is not UTF-8 text (byte {error.start}); pass the "
                                "JSON file as published") from None
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{where} is not valid JSON (line {error.lineno} column "
                                f"{error.colno}: {error.msg}); fix the syntax or download it "
                                "again") from None
    if not isinstance(data, list):
        raise InvalidInputError(f"{where} must contain a JSON list of items but contains "
                                f"{_json_kind(data)}; pass the {role} benchmark file")
    if not data:
        raise InvalidInputError(f"{where} contains no items; pass the {role} benchmark file")
    return data, hashlib.sha256(raw).hexdigest()


def question_key_of(data: list[Any]) -> str | None:
    """Return "vqa_pairs" (closed file) or "qa_pairs" (open file) when every item that is a
    JSON object has that key and not the other, else None."""
    keys = set()
    for raw in data:
        if isinstance(raw, dict):
            keys.add(("vqa_pairs" in raw, "qa_pairs" in raw))
    if keys == {(True, False)}:
        return "vqa_pairs"
    if keys == {(False, True)}:
        return "qa_pairs"
    return None


def parse_closed(path: Path, data_root: Path | None = None,
                 progress: Progress | None = None) -> BenchmarkFile:
    """Read and validate a closed benchmark file.

    With ``data_root``, an item whose image path leads out of the root through a symlink
    is invalid. File-level problems raise InvalidInputError; item problems are collected
    in ``invalid``.
    """
    data, sha256 = read_benchmark_json(path, "closed")
    if question_key_of(data) == "qa_pairs":
        raise InvalidInputError(f"'{path}' is an open-question benchmark file (its items have "
                                "qa_pairs, not vqa_pairs); pass it with --open")
    result = BenchmarkFile("closed", path, sha256)
    _parse_items(data, result, lambda raw: _closed_entry(raw, data_root), progress)
    return result


def parse_open(path: Path, closed: BenchmarkFile | None = None, data_root: Path | None = None,
               progress: Progress | None = None) -> BenchmarkFile:
    """Read and validate an open benchmark file.

    With ``closed``, every open item must match a valid closed item with the same id and
    image path.
    """
    data, sha256 = read_benchmark_json(path, "open")
    if question_key_of(data) == "vqa_pairs":
        raise InvalidInputError(f"'{path}' is a closed-question benchmark file (its items have "
                                "vqa_pairs, not qa_pairs); pass it with --closed")
    result = BenchmarkFile("open", path, sha256)
    closed_paths = None
    closed_invalid: set[str] = set()
    if closed is not None:
        closed_paths = {entry.item_id: entry.image_path for entry in closed.entries}
        closed_invalid = {bad.label for bad in closed.invalid}

    def parse(raw: Any) -> BenchmarkEntry:
        entry = _open_entry(raw, data_root)
        if closed_paths is None:
            return entry
        if str(entry.item_id) in closed_invalid:
            raise _ItemInvalid(f"closed item {entry.item_id} is invalid")
        if entry.item_id not in closed_paths:
            raise _ItemInvalid(f"no closed item has id {entry.item_id}")
        if closed_paths[entry.item_id] != entry.image_path:
            raise _ItemInvalid(f"image_path {entry.image_path!r} differs from the closed "
                               f"item's {closed_paths[entry.item_id]!r}")
        return entry

    _parse_items(data, result, parse, progress)
    return result


def invalid_items_message(files: list[BenchmarkFile]) -> str:
    """Return the one-line error for files with invalid items.

    The message lists the first invalid ids of each file with a count, shows the first
    problem, and points to ``--skip-invalid`` for importing the valid items.
    """
    parts = []
    for parsed in files:
        if not parsed.invalid:
            continue
        labels = [bad.label for bad in parsed.invalid]
        listed = ", ".join(labels[:SHOWN_INVALID_IDS])
        if len(labels) > SHOWN_INVALID_IDS:
            listed += f" and {len(labels) - SHOWN_INVALID_IDS} more"
        first = parsed.invalid[0]
        noun = "item" if len(labels) == 1 else "items"
        parts.append(f"{parsed.role} benchmark file '{parsed.path}' has {len(labels)} invalid "
                     f"{noun} ({listed}); item {first.label}: {first.problem}")
    return "; ".join(parts) + "; fix the file or pass --skip-invalid to import the valid items only"


# --------------------------------------------------------------------------- items


def _parse_items(data: list[Any], result: BenchmarkFile, parse: Callable[[Any], BenchmarkEntry],
                 progress: Progress | None) -> None:
    progress = progress or NullProgress()
    progress.start(len(data), f"validating {result.role} items")
    parsed: list[tuple[str, BenchmarkEntry | None, str | None]] = []
    for index, raw in enumerate(data):
        label = _item_label(raw, index)
        try:
            parsed.append((label, parse(raw), None))
        except _ItemInvalid as problem:
            parsed.append((label, None, str(problem)))
        progress.advance()

    # An id used twice makes every item with it invalid, because which one was meant is unknown.
    id_counts = Counter(label for label, _, _ in parsed)
    for label, entry, problem in parsed:
        if problem is None and id_counts[label] > 1:
            problem = f"id {label} is used by {id_counts[label]} items; ids must be unique"
        if problem is None:
            result.entries.append(entry)
        else:
            result.invalid.append(InvalidItem(label, problem))


def _item_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and _is_item_id(raw.get("id")):
        return str(raw["id"])
    return f"index {index}"


def _is_item_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ITEM_ID


def _check_item(raw: Any, fields: tuple[str, ...], pairs_key: str,
                data_root: Path | None) -> tuple[int, str, list[Any]]:
    if not isinstance(raw, dict):
        raise _ItemInvalid(f"is {_json_kind(raw)}, not an object with {', '.join(fields)}")
    _check_fields(raw, fields, (), "")
    if not _is_item_id(raw["id"]):
        raise _ItemInvalid(f"id {raw['id']!r} is not an integer from 0 to {MAX_ITEM_ID}")
    image_path = _text(raw, "image_path", "")
    problem = image_path_problem(image_path)
    if problem:
        raise _ItemInvalid(problem)
    if data_root is not None:
        try:
            resolve_in_root(data_root, image_path)
        except OutsideRootError as error:
            raise _ItemInvalid(str(error)) from None
    pairs = raw[pairs_key]
    if not isinstance(pairs, list) or not pairs:
        raise _ItemInvalid(f"{pairs_key} must be a non-empty list")
    return raw["id"], image_path, pairs


def _closed_entry(raw: Any, data_root: Path | None) -> BenchmarkEntry:
    item_id, image_path, pairs = _check_item(raw, CLOSED_ITEM_FIELDS, "vqa_pairs", data_root)
    questions = tuple(_closed_question(pair, index) for index, pair in enumerate(pairs))
    return BenchmarkEntry(item_id, image_path, questions)


def _open_entry(raw: Any, data_root: Path | None) -> BenchmarkEntry:
    item_id, image_path, pairs = _check_item(raw, OPEN_ITEM_FIELDS, "qa_pairs", data_root)
    questions = tuple(_open_question(pair, index, item_id) for index, pair in enumerate(pairs))
    seen = Counter(question.question_id for question in questions)
    repeated = [question_id for question_id, count in seen.items() if count > 1]
    if repeated:
        raise _ItemInvalid(f"question_id {repeated[0]!r} is used more than once")
    return BenchmarkEntry(item_id, image_path, questions)


# --------------------------------------------------------------------------- questions


def _closed_question(raw: Any, index: int) -> ClosedQuestion:
    where = f"vqa_pairs[{index}]: "
    if not isinstance(raw, dict):
        raise _ItemInvalid(f"{where}is {_json_kind(raw)}, not an object")
    _check_fields(raw, CLOSED_QUESTION_FIELDS, TRAP_FIELDS, where)
    question_type = _text(raw, "question_type", where, MAX_QUESTION_TYPE)
    stem = _text(raw, "question", where)
    options = _options(raw["options"], where)

    gold = raw["answer"]
    if not isinstance(gold, str) or gold not in options:
        raise _ItemInvalid(f"{where}gold letter {gold!r} is not among the options "
                           f"{_letter_range(options)}")

    is_trap, original = _trap_fields(raw, options, gold, where)
    return ClosedQuestion(index, question_type, stem, options, gold, is_trap, original,
                          duplicate_option_letters(options))


def _options(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _ItemInvalid(f"{where}options is {_json_kind(raw)}, not an object of letters")
    letters = list(raw)
    expected = list(OPTION_LETTERS[:len(letters)])
    if len(letters) < 2 or letters != expected:
        raise _ItemInvalid(f"{where}option keys {''.join(letters) or '(none)'} are not "
                           "consecutive letters from A (A-B up to A-E)")
    for letter, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            raise _ItemInvalid(f"{where}option {letter} must be a non-empty string")
    if "E" in raw and raw["E"] != NONE_OF_THE_ABOVE:
        raise _ItemInvalid(f"{where}option E reads {raw['E']!r}; it must read "
                           f"{NONE_OF_THE_ABOVE!r}")
    return dict(raw)


def _trap_fields(raw: dict[str, Any], options: dict[str, str], gold: str,
                 where: str) -> tuple[bool, str | None]:
    if "meta_trap" not in raw:
        if "meta_original_answer" in raw:
            raise _ItemInvalid(f"{where}meta_original_answer is given without meta_trap: true")
        return False, None
    if raw["meta_trap"] is not True:
        raise _ItemInvalid(f"{where}meta_trap is {raw['meta_trap']!r}; it must be true or absent")
    if gold != "E":
        raise _ItemInvalid(f"{where}trap question has gold letter {gold!r}; a trap's gold "
                           "letter must be E")
    original = raw.get("meta_original_answer")
    if not isinstance(original, str) or not original.strip():
        raise _ItemInvalid(f"{where}trap question has no meta_original_answer (the text of "
                           "the removed correct option)")
    if original in (text for letter, text in options.items() if letter != "E"):
        raise _ItemInvalid(f"{where}trap question still offers its original answer "
                           f"{original!r} among options A-D")
    return True, original


def original_answer_letter(question: ClosedQuestion) -> str | None:
    """Return the letter of an option that matches a trap's original answer after normalising.

    Such a trap still offers its removed answer in another spelling (v1.0 has three,
    "metastasis" removed but "Metastasis" offered), so its gold letter E is doubtful. The
    question is kept as published and reported.
    """
    if not question.is_trap or question.original_answer is None:
        return None
    original = normalise_option(question.original_answer)
    for letter, text in question.options.items():
        if letter != "E" and normalise_option(text) == original:
            return letter
    return None


def _open_question(raw: Any, index: int, item_id: int) -> OpenQuestion:
    where = f"qa_pairs[{index}]: "
    if not isinstance(raw, dict):
        raise _ItemInvalid(f"{where}is {_json_kind(raw)}, not an object")
    _check_fields(raw, OPEN_QUESTION_FIELDS, (), where)

    question_id = _text(raw, "question_id", where, MAX_QUESTION_ID)
    if not re.fullmatch(rf"{item_id}_q[1-9]\d*", question_id):
        raise _ItemInvalid(f"{where}question_id {question_id!r} does not read "
                           f"'{item_id}_q<number>'")

    keywords = raw["eval_keywords"]
    if not isinstance(keywords, list) or not all(isinstance(word, str) for word in keywords):
        raise _ItemInvalid(f"{where}eval_keywords must be a list of strings")

    return OpenQuestion(index, question_id, _text(raw, "question_type", where, MAX_QUESTION_TYPE),
                        _text(raw, "question", where), _text(raw, "reference_answer", where),
                        tuple(keywords))


# --------------------------------------------------------------------------- helpers


def _check_fields(raw: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...],
                  where: str) -> None:
    missing = [name for name in required if name not in raw]
    if missing:
        raise _ItemInvalid(f"{where}missing field {missing[0]!r}")
    unknown = [name for name in raw if name not in required and name not in optional]
    if unknown:
        raise _ItemInvalid(f"{where}unknown field {unknown[0]!r}")


def _text(raw: dict[str, Any], name: str, where: str, max_length: int | None = None) -> str:
    value = raw[name]
    if not isinstance(value, str) or not value.strip():
        raise _ItemInvalid(f"{where}{name} must be a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise _ItemInvalid(f"{where}{name} is longer than {max_length} characters")
    return value


def _letter_range(options: dict[str, str]) -> str:
    letters = list(options)
    return f"{letters[0]}-{letters[-1]}"


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"
