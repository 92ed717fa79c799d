"""Clinician reviews: append-only verdicts on model answers, slices and silver-label fields.

A review never changes in place. Each save appends a version for the same target and
reviewer that supersedes the previous one, so the history stays visible. Undo appends a
version too: a copy of the version before the undone save, or a ``withdrawn`` verdict when
there was none.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (Answer, BenchmarkItem, Case, Dataset, Question, Review, Run, Series, Slice,
                       VERDICTS)
from engine.errors import InvalidInputError, NotFoundError

TARGETS = ("answer", "slice", "silver_label")
EXPORT_COLUMNS = (
    "review_id", "version", "created_at", "reviewer", "target", "verdict", "comment",
    "corrected_answer", "corrected_label", "field", "answer_id", "run", "model", "question_id",
    "question_type", "gold_letter", "parsed_letter", "slice_id", "dataset", "case",
    "image_path", "slice_index", "silver_label_id",
)


@dataclass(frozen=True)
class ReviewTarget:
    """What a review is about: one answer, one slice, or one field of a silver label."""

    kind: str
    target_id: int
    field: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TARGETS:
            raise InvalidInputError(f"review target must be one of {', '.join(TARGETS)}, not {self.kind!r}")
        if self.kind == "silver_label" and not self.field:
            raise InvalidInputError("a silver-label review needs the field it is about")

    def where(self):
        column = {"answer": Review.answer_id, "slice": Review.slice_id,
                  "silver_label": Review.silver_label_id}[self.kind]
        conditions = [Review.target == self.kind, column == self.target_id]
        if self.field is not None:
            conditions.append(Review.field == self.field)
        return conditions

    def columns(self) -> dict[str, Any]:
        key = {"answer": "answer_id", "slice": "slice_id", "silver_label": "silver_label_id"}[self.kind]
        return {"target": self.kind, key: self.target_id, "field": self.field}


def _latest(session: Session, target: ReviewTarget, reviewer: str) -> Review | None:
    return session.scalar(
        select(Review).where(*target.where(), Review.reviewer == reviewer)
        .order_by(Review.id.desc()).limit(1)
    )


def record_review(session: Session, target: ReviewTarget, reviewer: str, verdict: str,
                  comment: str | None = None, corrected_answer: str | None = None,
                  corrected_label: str | None = None) -> Review:
    """Append a review version for ``target`` by ``reviewer`` and return it."""
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise InvalidInputError("reviewer name is empty; set it in the settings before reviewing")
    if verdict not in VERDICTS:
        raise InvalidInputError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    previous = _latest(session, target, reviewer)
    review = Review(
        **target.columns(), reviewer=reviewer, verdict=verdict,
        comment=(comment or None), corrected_answer=(corrected_answer or None),
        corrected_label=(corrected_label or None),
        version=(previous.version + 1) if previous else 1,
        supersedes_id=previous.id if previous else None,
    )
    session.add(review)
    session.flush()
    return review


def undo_review(session: Session, review_id: int) -> Review:
    """Undo the save that created review ``review_id`` by appending the version it replaced.

    The appended version copies the replaced one, or is ``withdrawn`` when the undone review
    was the first. The caller keeps the stack of its saves, so repeated undos walk back
    through them.
    """
    undone = session.get(Review, review_id)
    if undone is None:
        raise NotFoundError(f"review {review_id} not found")
    newest = _latest(session, ReviewTarget(undone.target, _target_id(undone), undone.field),
                     undone.reviewer)
    replaced = session.get(Review, undone.supersedes_id) if undone.supersedes_id else None
    restored = Review(
        target=undone.target, answer_id=undone.answer_id, slice_id=undone.slice_id,
        silver_label_id=undone.silver_label_id, field=undone.field, reviewer=undone.reviewer,
        verdict=replaced.verdict if replaced else "withdrawn",
        comment=replaced.comment if replaced else None,
        corrected_answer=replaced.corrected_answer if replaced else None,
        corrected_label=replaced.corrected_label if replaced else None,
        version=newest.version + 1, supersedes_id=newest.id,
    )
    session.add(restored)
    session.flush()
    return restored


def _target_id(review: Review) -> int:
    return {"answer": review.answer_id, "slice": review.slice_id,
            "silver_label": review.silver_label_id}[review.target]


def current_reviews(session: Session, target: ReviewTarget) -> list[Review]:
    """Return the newest version of each reviewer's review of ``target`` (withdrawn excluded)."""
    newest = (
        select(func.max(Review.id)).where(*target.where()).group_by(Review.reviewer)
    )
    reviews = session.scalars(select(Review).where(Review.id.in_(newest)).order_by(Review.reviewer))
    return [review for review in reviews if review.verdict != "withdrawn"]


def history(session: Session, target: ReviewTarget) -> list[Review]:
    """Return every version of every review of ``target``, oldest first."""
    return list(session.scalars(select(Review).where(*target.where()).order_by(Review.id)))


def _latest_ids(reviewer: str | None = None, target: str | None = None):
    query = select(func.max(Review.id)).group_by(
        Review.target, Review.answer_id, Review.slice_id, Review.silver_label_id, Review.field,
        Review.reviewer,
    )
    if reviewer:
        query = query.where(Review.reviewer == reviewer)
    if target:
        query = query.where(Review.target == target)
    return query


def list_reviews(session: Session, verdict: str | None = None, reviewer: str | None = None,
                 target: str | None = None, run_id: int | None = None,
                 all_versions: bool = False) -> list[dict[str, Any]]:
    """Return reviews as flat export rows; by default only each reviewer's current versions."""
    query = (
        select(Review, Answer, Run, Question, Slice, Series, Case, Dataset, BenchmarkItem)
        .outerjoin(Answer, Answer.id == Review.answer_id)
        .outerjoin(Run, Run.id == Answer.run_id)
        .outerjoin(Question, Question.id == Answer.question_id)
        .outerjoin(BenchmarkItem, BenchmarkItem.id == Question.item_id)
        .outerjoin(Slice, Slice.id == func.coalesce(Review.slice_id, BenchmarkItem.slice_id))
        .outerjoin(Series, Series.id == Slice.series_id)
        .outerjoin(Case, Case.id == Series.case_id)
        .outerjoin(Dataset, Dataset.id == Case.dataset_id)
        .order_by(Review.id)
    )
    if not all_versions:
        query = query.where(Review.id.in_(_latest_ids(reviewer, target)),
                            Review.verdict != "withdrawn")
    if verdict:
        query = query.where(Review.verdict == verdict)
    if reviewer:
        query = query.where(Review.reviewer == reviewer)
    if target:
        query = query.where(Review.target == target)
    if run_id is not None:
        query = query.where(Answer.run_id == run_id)
    rows = []
    for review, answer, run, question, slice_, _series, case, dataset, item in session.execute(query):
        rows.append({
            "review_id": review.id, "version": review.version,
            "created_at": review.created_at.isoformat() if review.created_at else None,
            "reviewer": review.reviewer, "target": review.target, "verdict": review.verdict,
            "comment": review.comment, "corrected_answer": review.corrected_answer,
            "corrected_label": review.corrected_label, "field": review.field,
            "answer_id": review.answer_id, "run": run.name if run else None,
            "model": run.model_name if run else None,
            "question_id": question.id if question else None,
            "question_type": question.question_type if question else None,
            "gold_letter": question.gold_letter if question else None,
            "parsed_letter": answer.parsed_letter if answer else None,
            "slice_id": slice_.id if slice_ else None,
            "dataset": dataset.name if dataset else None, "case": case.pseudonym if case else None,
            "image_path": (slice_.image_path if slice_ else None) or (item.image_path if item else None),
            "slice_index": slice_.index if slice_ else None,
            "silver_label_id": review.silver_label_id,
        })
    return rows


def export_reviews(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write review rows to ``path`` as CSV or JSON (by suffix); return the row count."""
    rows = list(rows)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise InvalidInputError(f"cannot export reviews to '{path.name}'; use a .csv or .json file name")
    return len(rows)


def agreement_by_run(session: Session) -> dict[int, dict[str, float | int]]:
    """Return, per run, how many answers have a current review and the share agreed with.

    Each reviewer's current verdict counts once; "flag" counts as reviewed, not agreed.
    """
    query = (
        select(Answer.run_id, Review.verdict, func.count())
        .join(Answer, Answer.id == Review.answer_id)
        .where(Review.id.in_(_latest_ids(target="answer")), Review.verdict != "withdrawn")
        .group_by(Answer.run_id, Review.verdict)
    )
    result: dict[int, dict[str, float | int]] = {}
    for run_id, verdict, count in session.execute(query):
        entry = result.setdefault(run_id, {"reviewed": 0, "agree": 0, "disagree": 0, "flag": 0})
        entry["reviewed"] += count
        entry[verdict] += count
    for entry in result.values():
        entry["agreement"] = entry["agree"] / entry["reviewed"] if entry["reviewed"] else 0.0
    return result


def require_target_exists(session: Session, target: ReviewTarget) -> None:
    from db.models import SilverLabel

    model = {"answer": Answer, "slice": Slice, "silver_label": SilverLabel}[target.kind]
    if session.get(model, target.target_id) is None:
        raise NotFoundError(f"{target.kind.replace('_', ' ')} {target.target_id} not found")
