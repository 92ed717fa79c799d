"""The browser tree: datasets, cases and series with their counts of matching slices.

Each level is listed in pages, so a dataset of 20,000 single-image cases opens as fast as
one with a single volume. Counts are of the slices that match the browser's filters, and a
group without a matching slice is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from db.models import Case, Dataset, Series, Slice
from engine.catalog import SliceFilter, filtered_query

LEVELS = ("dataset", "case", "series")


@dataclass(frozen=True)
class GroupRow:
    """One dataset, case or series of the tree with its number of matching slices.

    ``detail`` is the dataset kind, the case's tumour type or the series' file name.
    """

    level: str
    id: int
    label: str
    detail: str | None
    slice_count: int


def _level_columns(level: str):
    if level == "dataset":
        return Dataset.id, (Dataset.name, Dataset.kind), Dataset.name, None
    if level == "case":
        return Case.id, (Case.pseudonym, Case.tumour_type), Case.pseudonym, Case.dataset_id
    if level == "series":
        return Series.id, (Series.modality, Series.source_path), Series.id, Series.case_id
    raise ValueError(f"tree level must be one of {', '.join(LEVELS)}, not {level!r}")


def list_groups(session: Session, filters: SliceFilter, level: str, parent_id: int | None = None,
                offset: int = 0, limit: int | None = None) -> list[GroupRow]:
    """Return one page of the groups of ``level`` under ``parent_id`` that have matching slices.

    ``parent_id`` is the dataset id for cases and the case id for series (None for datasets).
    """
    key, (label, detail), order, parent = _level_columns(level)
    query = filtered_query(session, filters, [key, label, detail, func.count(Slice.id)])
    if parent is not None:
        query = query.where(parent == parent_id)
    query = query.group_by(key, label, detail).order_by(order, key)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for group_id, group_label, group_detail, count in session.execute(query):
        if level == "series":
            group_detail = PurePath(group_detail).name if group_detail else None
        rows.append(GroupRow(level, group_id, group_label, group_detail, count))
    return rows


def count_groups(session: Session, filters: SliceFilter, level: str,
                 parent_id: int | None = None) -> int:
    """Return how many groups of ``level`` under ``parent_id`` have matching slices."""
    key, _, _, parent = _level_columns(level)
    query = filtered_query(session, filters, [func.count(distinct(key))])
    if parent is not None:
        query = query.where(parent == parent_id)
    return session.scalar(query) or 0


def slice_position(session: Session, slice_id: int) -> tuple[int, int, int, int] | None:
    """Return (dataset id, case id, series id, slice index) of a slice, or None if it is gone."""
    row = session.execute(
        select(Case.dataset_id, Series.case_id, Slice.series_id, Slice.index)
        .join(Series, Series.id == Slice.series_id).join(Case, Case.id == Series.case_id)
        .where(Slice.id == slice_id)
    ).one_or_none()
    return tuple(row) if row is not None else None
