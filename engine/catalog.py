"""Listing and filtering slices for the browser: datasets -> cases -> series -> slices.

The queries return plain tuples through SQLAlchemy Core (no ORM objects), so a page of the
browser loads in milliseconds even with 75,000 slices. Filters combine with AND; an empty
filter lists everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Sequence

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from db.models import (Answer, BenchmarkItem, Case, Dataset, Question, Review, Semantics, Series,
                       Slice)

# Semantics regions that describe the whole lesion: binary masks and BraTS whole tumour.
WHOLE_LESION_REGIONS = ("whole", "WT")
REVIEW_STATES = ("unreviewed", "reviewed", "agree", "disagree", "flag")
# The browser's order: series in import order, then slice index. It follows the unique
# (series, slice index) index, so a page of a large result is read without sorting every
# match (75,000 slices page in milliseconds; names would need a full sort).
BROWSER_ORDER = (Slice.series_id, Slice.index)


@dataclass
class SliceFilter:
    """Browser filters; None (or an empty list) means "any"."""

    dataset_ids: list[int] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    series_ids: list[int] = field(default_factory=list)
    tumour_types: list[str] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)
    has_mask: bool | None = None
    has_lesion: bool | None = None
    sizes: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    spreads: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    review_state: str | None = None
    reviewer: str | None = None
    benchmark_id: int | None = None
    run_id: int | None = None
    run_outcome: str | None = None  # "right" or "wrong", with run_id
    has_questions: bool | None = None  # linked to an item of any benchmark
    unreviewed_by: str | None = None  # the slice or one of its answers lacks this reviewer's review
    text: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, [], "") for f in fields(self))


@dataclass(frozen=True)
class SliceRow:
    slice_id: int
    slice_index: int
    series_id: int
    case_id: int
    dataset_id: int
    dataset: str
    case: str
    tumour_type: str | None
    modality: str
    series_kind: str
    image_path: str | None
    has_mask: bool


def _latest_slice_reviews():
    """Select (slice_id, verdict, reviewer) of the newest slice review of each slice.

    An undo appends a "withdrawn" version, so a withdrawn newest review means unreviewed.
    """
    newest_ids = (
        select(func.max(Review.id))
        .where(Review.target == "slice", Review.slice_id.is_not(None))
        .group_by(Review.slice_id)
    )
    return select(Review.slice_id).where(Review.id.in_(newest_ids))


def _review_condition(filters: SliceFilter):
    latest = _latest_slice_reviews()
    if filters.reviewer:
        latest = latest.where(Review.reviewer == filters.reviewer)
    state = filters.review_state
    if state == "unreviewed":
        return Slice.id.not_in(latest.where(Review.verdict != "withdrawn"))
    if state in (None, "reviewed"):
        return Slice.id.in_(latest.where(Review.verdict != "withdrawn"))
    return Slice.id.in_(latest.where(Review.verdict == state))


def _current_reviews_by(reviewer: str, target: str):
    """Select the newest review ids of ``reviewer`` per target of kind ``target``."""
    return (
        select(func.max(Review.id))
        .where(Review.reviewer == reviewer, Review.target == target)
        .group_by(Review.answer_id, Review.slice_id)
    )


def _unreviewed_by_condition(reviewer: str):
    """Slices whose own review or the review of one of their answers by ``reviewer`` is missing."""
    reviewed_slices = select(Review.slice_id).where(
        Review.id.in_(_current_reviews_by(reviewer, "slice")), Review.verdict != "withdrawn")
    reviewed_answers = select(Review.answer_id).where(
        Review.id.in_(_current_reviews_by(reviewer, "answer")), Review.verdict != "withdrawn")
    with_open_answers = (
        select(BenchmarkItem.slice_id)
        .join(Question, Question.item_id == BenchmarkItem.id)
        .join(Answer, Answer.question_id == Question.id)
        .where(BenchmarkItem.slice_id.is_not(None), Answer.id.not_in(reviewed_answers))
    )
    return or_(Slice.id.not_in(reviewed_slices), Slice.id.in_(with_open_answers))


def _with_semantics(*conditions):
    # IN (subquery) lets SQLite build the matching set once instead of probing per slice.
    return Slice.id.in_(
        select(Semantics.slice_id).where(Semantics.region.in_(WHOLE_LESION_REGIONS), *conditions)
    )


def _conditions(filters: SliceFilter, dialect: str) -> list:
    conditions = []
    if filters.dataset_ids:
        conditions.append(Case.dataset_id.in_(filters.dataset_ids))
    if filters.case_ids:
        conditions.append(Case.id.in_(filters.case_ids))
    if filters.series_ids:
        conditions.append(Series.id.in_(filters.series_ids))
    if filters.tumour_types:
        conditions.append(Case.tumour_type.in_(filters.tumour_types))
    if filters.modalities:
        conditions.append(Series.modality.in_(filters.modalities))
    if filters.has_mask is not None:
        conditions.append(Slice.has_mask.is_(filters.has_mask))
    if filters.has_lesion is not None:
        lesion = _with_semantics(Semantics.is_empty.is_(False))
        conditions.append(lesion if filters.has_lesion else ~lesion)
    for values, column in ((filters.sizes, Semantics.size), (filters.shapes, Semantics.shape),
                           (filters.spreads, Semantics.spread),
                           (filters.locations, Semantics.location)):
        if values:
            conditions.append(_with_semantics(column.in_(values)))
    if filters.review_state or filters.reviewer:
        conditions.append(_review_condition(filters))
    if filters.benchmark_id is not None:
        conditions.append(Slice.id.in_(
            select(BenchmarkItem.slice_id).where(BenchmarkItem.benchmark_id == filters.benchmark_id)
        ))
    if filters.has_questions is not None:
        linked = Slice.id.in_(select(BenchmarkItem.slice_id).where(BenchmarkItem.slice_id.is_not(None)))
        conditions.append(linked if filters.has_questions else ~linked)
    if filters.unreviewed_by:
        conditions.append(_unreviewed_by_condition(filters.unreviewed_by))
    if filters.run_id is not None:
        answered = (
            select(BenchmarkItem.slice_id)
            .join(Question, Question.item_id == BenchmarkItem.id)
            .join(Answer, Answer.question_id == Question.id)
            .where(Answer.run_id == filters.run_id)
        )
        if filters.run_outcome == "right":
            answered = answered.where(Answer.is_correct.is_(True))
        elif filters.run_outcome == "wrong":
            answered = answered.where(Answer.is_correct.is_(False))
        conditions.append(Slice.id.in_(answered))
    if filters.text:
        pattern = f"%{filters.text.strip()}%"
        columns = (Case.pseudonym, Slice.image_path, Case.tumour_type, Dataset.name,
                   Slice.coarse_description)
        if dialect == "sqlite":
            # SQLite's LIKE already ignores ASCII case; lower() on both sides costs a third.
            conditions.append(or_(*(column.like(pattern) for column in columns)))
        else:
            conditions.append(or_(*(column.ilike(pattern) for column in columns)))
    return conditions


def filtered_query(session: Session, filters: SliceFilter, columns: Sequence):
    """Return a SELECT of ``columns`` over the slices matching ``filters``.

    Slice, Series, Case and Dataset are joined, so ``columns`` may name any of them.
    """
    query = (
        select(*columns)
        .select_from(Slice)
        .join(Series, Series.id == Slice.series_id)
        .join(Case, Case.id == Series.case_id)
        .join(Dataset, Dataset.id == Case.dataset_id)
    )
    return query.where(*_conditions(filters, session.get_bind().dialect.name))


def count_slices(session: Session, filters: SliceFilter) -> int:
    return session.scalar(filtered_query(session, filters, [func.count(Slice.id)])) or 0


def list_slices(session: Session, filters: SliceFilter, offset: int = 0,
                limit: int | None = None) -> list[SliceRow]:
    """Return one page of matching slices in browser order: series (import order), then slice.

    The order follows the unique (series, slice index) index, so a page of a large result
    is read without sorting all matches.
    """
    columns = [Slice.id, Slice.index, Series.id, Case.id, Dataset.id, Dataset.name,
               Case.pseudonym, Case.tumour_type, Series.modality, Series.kind,
               Slice.image_path, Slice.has_mask]
    query = filtered_query(session, filters, columns).order_by(*BROWSER_ORDER)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [SliceRow(*row) for row in session.execute(query)]


def list_slice_ids(session: Session, filters: SliceFilter) -> list[int]:
    """Return the ids of every matching slice, in browser order."""
    query = filtered_query(session, filters, [Slice.id]).order_by(*BROWSER_ORDER)
    return list(session.scalars(query))


def next_slice_id(session: Session, filters: SliceFilter, after_slice_id: int | None) -> int | None:
    """Return the first matching slice after slice ``after_slice_id`` in browser order.

    With ``after_slice_id`` None, return the first matching slice. The slice itself need
    not match the filters. Returns None when no matching slice follows.
    """
    query = filtered_query(session, filters, [Slice.id])
    if after_slice_id is not None:
        position = session.execute(
            select(*BROWSER_ORDER).select_from(Slice)
            .join(Series, Series.id == Slice.series_id)
            .join(Case, Case.id == Series.case_id)
            .join(Dataset, Dataset.id == Case.dataset_id)
            .where(Slice.id == after_slice_id)
        ).one_or_none()
        if position is None:
            return None
        query = query.where(tuple_(*BROWSER_ORDER) > tuple_(*position))
    return session.scalar(query.order_by(*BROWSER_ORDER).limit(1))


def distinct_values(session: Session) -> dict[str, list[str]]:
    """Return the values present for each categorical filter (for the browser's choices)."""

    def values(column, *where):
        query = select(column).where(column.is_not(None), *where).distinct().order_by(column)
        return [value for value in session.scalars(query)]

    whole = Semantics.region.in_(WHOLE_LESION_REGIONS)
    return {
        "tumour_types": values(Case.tumour_type),
        "modalities": values(Series.modality),
        "sizes": values(Semantics.size, whole),
        "shapes": values(Semantics.shape, whole),
        "spreads": values(Semantics.spread, whole),
        "locations": values(Semantics.location, whole),
        "reviewers": values(Review.reviewer),
    }
