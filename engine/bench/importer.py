"""Importing MM-NeuroOnco benchmark files (closed, optionally open) into the database.

An import is one transaction, so a failure leaves no rows. It is idempotent by content:
importing files whose sha256 matches an existing benchmark adds nothing and names that
benchmark. Items are stored without their images and marked ``image_missing`` unless a
data root is given and the image is found under it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from db.models import Benchmark, BenchmarkItem, Question
from db.session import Database
from engine.bench.catalog import find_by_content
from engine.bench.images import (ImagePresence, apply_presence, check_images, import_present_images,
                                 validate_data_root)
from engine.errors import InvalidInputError
from engine.io.benchmark import (BenchmarkEntry, BenchmarkFile, ClosedQuestion, OpenQuestion,
                                 invalid_items_message, original_answer_letter, parse_closed,
                                 parse_open)
from engine.io.benchmark_paths import tumour_class_and_source
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class DuplicateOptions:
    """A closed question whose options repeat after normalising case and separators."""

    item_id: int
    q_index: int
    question_type: str
    letters: tuple[str, ...]
    texts: tuple[str, ...]
    gold_letter: str

    @property
    def gold_repeated(self) -> bool:
        return self.gold_letter in self.letters


@dataclass(frozen=True)
class OfferedOriginal:
    """A trap question that still offers its original answer, spelled differently, in ``letter``."""

    item_id: int
    q_index: int
    question_type: str
    letter: str
    option_text: str
    original_answer: str


@dataclass
class ImportReport:
    """Outcome of an import; ``created`` is False when the files were already imported."""

    name: str
    created: bool
    items: int = 0
    questions: int = 0
    traps: int = 0
    open_items: int = 0
    open_questions: int = 0
    duplicates: list[DuplicateOptions] = field(default_factory=list)
    offered_originals: list[OfferedOriginal] = field(default_factory=list)
    # Labels (ids, or "index N") of invalid items skipped with skip_invalid, per file role.
    skipped: dict[str, list[str]] = field(default_factory=dict)
    images: ImagePresence | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "created": self.created, "items": self.items,
            "questions": self.questions, "traps": self.traps, "open_items": self.open_items,
            "open_questions": self.open_questions,
            "duplicate_option_questions": [
                {"item_id": dup.item_id, "q_index": dup.q_index, "question_type": dup.question_type,
                 "letters": list(dup.letters), "texts": list(dup.texts),
                 "gold_letter": dup.gold_letter}
                for dup in self.duplicates
            ],
            "traps_offering_original": [
                {"item_id": trap.item_id, "q_index": trap.q_index,
                 "question_type": trap.question_type, "letter": trap.letter,
                 "option_text": trap.option_text, "original_answer": trap.original_answer}
                for trap in self.offered_originals
            ],
            "skipped": self.skipped,
            "images": self.images.to_dict() if self.images else None,
        }


def import_benchmark(db: Database, closed_path: str | Path, open_path: str | Path | None = None,
                     data_root: str | Path | None = None, name: str | None = None,
                     skip_invalid: bool = False, progress: Progress | None = None,
                     import_images: bool = True) -> ImportReport:
    """Import a closed benchmark file and optionally the matching open file.

    With a ``data_root`` the present images are imported (unless ``import_images`` is
    False) and the items linked to them.

    ``name`` defaults to the closed file's stem. Raises InvalidInputError for unreadable
    files, invalid items (unless ``skip_invalid``), a missing data root, or a name already
    used by a benchmark with other content. The database is then unchanged.
    """
    progress = progress or NullProgress()
    closed_path = Path(closed_path)
    name = _benchmark_name(name if name is not None else closed_path.stem)
    root = validate_data_root(data_root) if data_root is not None else None

    closed = parse_closed(closed_path, root, progress)
    files = [closed]
    if open_path is not None:
        files.append(parse_open(Path(open_path), closed, root, progress))
    sources = [parsed.source_record() for parsed in files]

    existing = _existing_name(db, sources)
    if existing is not None:
        log.info("benchmark files already imported as %s", existing)
        return ImportReport(name=existing, created=False)

    if any(parsed.invalid for parsed in files) and not skip_invalid:
        raise InvalidInputError(invalid_items_message(files))
    if not closed.entries:
        raise InvalidInputError(f"closed benchmark file '{closed_path}' has no valid items; "
                                "nothing to import")

    presence = None
    images_dataset = None
    if root is not None:
        items = [(entry.item_id, entry.image_path) for entry in closed.entries]
        presence = check_images(root, items, progress)
        # The images go in first, as their own dataset import, so the benchmark's write
        # transaction below can link its items to their slices.
        if import_images:
            images_dataset = import_present_images(db, name, root, items, presence, progress)

    # No progress calls inside the write transaction: on SQLite a job's progress writes the
    # job row, which would wait for the write lock that this transaction holds.
    progress.start(1, f"writing benchmark '{name}'")
    with db.session(write=True) as session:
        report = _write(session, name, files, sources, presence, images_dataset)
    progress.advance()
    log.info("imported benchmark %s: %d items, %d questions, %d open questions",
             report.name, report.items, report.questions, report.open_questions)
    return report


def _benchmark_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"benchmark name {name!r} must have 1 to {MAX_NAME_LENGTH} "
                                "characters; pass another --name")
    return name


def _existing_name(db: Database, sources: list[dict[str, Any]]) -> str | None:
    with db.session() as session:
        existing = find_by_content(session, sources)
        return existing.name if existing is not None else None


def _write(session, name: str, files: list[BenchmarkFile], sources: list[dict[str, Any]],
           presence: ImagePresence | None,
           images_dataset: int | None = None) -> ImportReport:  # noqa: ANN001 - a Session
    # Checked again inside the transaction, which holds the write lock, so two imports of
    # the same files at once cannot both write.
    existing = find_by_content(session, sources)
    if existing is not None:
        return ImportReport(name=existing.name, created=False)
    if session.scalar(select(Benchmark.id).where(Benchmark.name == name)) is not None:
        raise InvalidInputError(
            f"benchmark name '{name}' is already used by a benchmark imported from other "
            "files; choose another --name or delete that benchmark with "
            f"'neuroonco bench delete {name}'")

    closed, *rest = files
    opened = {entry.item_id: entry for entry in rest[0].entries} if rest else {}
    report = ImportReport(name=name, created=True,
                          skipped={parsed.role: [bad.label for bad in parsed.invalid]
                                   for parsed in files if parsed.invalid})
    benchmark = Benchmark(name=name, source_files=sources, images_dataset_id=images_dataset)
    session.add(benchmark)
    session.flush()

    for entry in closed.entries:
        session.add(_item_row(benchmark.id, entry, opened.get(entry.item_id), report))
    session.flush()

    if presence is not None:
        apply_presence(session, benchmark, presence)
        report.images = presence
    return report


def _item_row(benchmark_id: int, closed: BenchmarkEntry, opened: BenchmarkEntry | None,
              report: ImportReport) -> BenchmarkItem:
    tumour_class, source = tumour_class_and_source(closed.image_path)
    item = BenchmarkItem(benchmark_id=benchmark_id, item_id=closed.item_id,
                         image_path=closed.image_path, tumour_class=tumour_class, source=source,
                         image_missing=True)
    for question in closed.questions:
        item.questions.append(_closed_row(question))
        report.traps += question.is_trap
        if question.duplicate_options:
            report.duplicates.append(DuplicateOptions(
                closed.item_id, question.q_index, question.question_type,
                question.duplicate_options,
                tuple(question.options[letter] for letter in question.duplicate_options),
                question.gold_letter))
        letter = original_answer_letter(question)
        if letter is not None:
            report.offered_originals.append(OfferedOriginal(
                closed.item_id, question.q_index, question.question_type, letter,
                question.options[letter], question.original_answer))
    report.items += 1
    report.questions += len(closed.questions)

    if opened is not None:
        item.questions.extend(_open_row(question) for question in opened.questions)
        report.open_items += 1
        report.open_questions += len(opened.questions)
    return item


def _closed_row(question: ClosedQuestion) -> Question:
    row = Question(
        kind="closed", q_index=question.q_index, question_type=question.question_type,
        stem=question.stem, options=dict(question.options), gold_letter=question.gold_letter,
        is_trap=question.is_trap, original_answer=question.original_answer,
    )
    # Set only when there are repeats: a JSON column given None stores the JSON value null,
    # not SQL NULL, and "duplicate_options IS NULL" would then match nothing.
    if question.duplicate_options:
        row.duplicate_options = list(question.duplicate_options)
    return row


def _open_row(question: OpenQuestion) -> Question:
    return Question(
        kind="open", q_index=question.q_index, external_id=question.question_id,
        question_type=question.question_type, stem=question.stem,
        reference_answer=question.reference_answer, keywords=list(question.keywords),
    )
