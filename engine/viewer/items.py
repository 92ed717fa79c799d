"""Browsing benchmark items, including those whose image is missing (gated data).

Benchmark images are distributed apart from the questions, so most items of an imported
benchmark have no slice to show. The browser lists them under their benchmark, and the
questions panel shows their questions and answers without the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from db.models import Answer, Benchmark, BenchmarkItem, Question, Review, Slice
from engine.catalog import SliceFilter, filtered_query


@dataclass
class ItemFilter:
    """Filters of the benchmark branch of the browser; None (or an empty list) means "any"."""

    benchmark_ids: list[int] = field(default_factory=list)
    tumour_classes: list[str] = field(default_factory=list)
    image_missing: bool | None = None
    run_id: int | None = None
    run_outcome: str | None = None  # "right" or "wrong", with run_id
    unreviewed_by: str | None = None  # an answer of the item lacks this reviewer's review
    text: str | None = None
    # Only items whose imported slice matches these slice filters (modality, semantics, ...).
    slice_filter: SliceFilter | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, [], "") for f in fields(self))


@dataclass(frozen=True)
class ItemRow:
    """One benchmark item; ``item_pk`` is its database id, ``item_id`` the benchmark's own."""

    item_pk: int
    benchmark_id: int
    benchmark: str
    item_id: int
    image_path: str
    tumour_class: str | None
    image_missing: bool
    slice_id: int | None


ITEM_ORDER = (Benchmark.name, BenchmarkItem.item_id)


def _reviewed_answers(reviewer: str):
    newest = (select(func.max(Review.id))
              .where(Review.reviewer == reviewer, Review.target == "answer")
              .group_by(Review.answer_id))
    return select(Review.answer_id).where(Review.id.in_(newest), Review.verdict != "withdrawn")


def _conditions(session: Session, filters: ItemFilter) -> list:
    conditions = []
    if filters.slice_filter is not None:
        conditions.append(BenchmarkItem.slice_id.in_(filtered_query(session, filters.slice_filter, [Slice.id])))
    if filters.benchmark_ids:
        conditions.append(BenchmarkItem.benchmark_id.in_(filters.benchmark_ids))
    if filters.tumour_classes:
        conditions.append(BenchmarkItem.tumour_class.in_(filters.tumour_classes))
    if filters.image_missing is not None:
        conditions.append(BenchmarkItem.image_missing.is_(filters.image_missing))
    if filters.run_id is not None:
        answered = (select(Question.item_id).join(Answer, Answer.question_id == Question.id)
                    .where(Answer.run_id == filters.run_id))
        if filters.run_outcome == "right":
            answered = answered.where(Answer.is_correct.is_(True))
        elif filters.run_outcome == "wrong":
            answered = answered.where(Answer.is_correct.is_(False))
        conditions.append(BenchmarkItem.id.in_(answered))
    if filters.unreviewed_by:
        open_answers = (select(Question.item_id).join(Answer, Answer.question_id == Question.id)
                        .where(Answer.id.not_in(_reviewed_answers(filters.unreviewed_by))))
        conditions.append(BenchmarkItem.id.in_(open_answers))
    if filters.text:
        pattern = f"%{filters.text.strip()}%"
        conditions.append(or_(BenchmarkItem.image_path.like(pattern),
                              BenchmarkItem.tumour_class.like(pattern)))
    return conditions


def _query(session: Session, filters: ItemFilter, columns):
    return (select(*columns).select_from(BenchmarkItem)
            .join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
            .where(*_conditions(session, filters)))


def count_items(session: Session, filters: ItemFilter) -> int:
    return session.scalar(_query(session, filters, [func.count(BenchmarkItem.id)])) or 0


def list_items(session: Session, filters: ItemFilter, offset: int = 0,
               limit: int | None = None) -> list[ItemRow]:
    """Return one page of matching items, ordered by benchmark name and item id."""
    query = _query(session, filters, [BenchmarkItem.id, Benchmark.id, Benchmark.name, BenchmarkItem.item_id,
                             BenchmarkItem.image_path, BenchmarkItem.tumour_class,
                             BenchmarkItem.image_missing, BenchmarkItem.slice_id])
    query = query.order_by(*ITEM_ORDER)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [ItemRow(*row) for row in session.execute(query)]


def next_item_pk(session: Session, filters: ItemFilter, after_item_pk: int | None) -> int | None:
    """Return the database id of the first matching item after ``after_item_pk``, or None."""
    query = _query(session, filters, [BenchmarkItem.id])
    if after_item_pk is not None:
        position = session.execute(
            select(*ITEM_ORDER).join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
            .where(BenchmarkItem.id == after_item_pk)
        ).one_or_none()
        if position is None:
            return None
        query = query.where(tuple_(*ITEM_ORDER) > tuple_(*position))
    return session.scalar(query.order_by(*ITEM_ORDER).limit(1))


def item_row(session: Session, item_pk: int) -> ItemRow | None:
    rows = session.execute(
        select(BenchmarkItem.id, Benchmark.id, Benchmark.name, BenchmarkItem.item_id,
               BenchmarkItem.image_path, BenchmarkItem.tumour_class, BenchmarkItem.image_missing,
               BenchmarkItem.slice_id)
        .join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
        .where(BenchmarkItem.id == item_pk)
    ).all()
    return ItemRow(*rows[0]) if rows else None


@dataclass(frozen=True)
class BenchmarkRow:
    benchmark_id: int
    name: str
    item_count: int
    data_root: str | None


def list_benchmark_groups(session: Session, filters: ItemFilter) -> list[BenchmarkRow]:
    """Return the benchmarks that have matching items, with their matching item counts."""
    query = (_query(session, filters, [Benchmark.id, Benchmark.name, func.count(BenchmarkItem.id),
                              Benchmark.data_root])
             .group_by(Benchmark.id, Benchmark.name, Benchmark.data_root).order_by(Benchmark.name))
    return [BenchmarkRow(*row) for row in session.execute(query)]
