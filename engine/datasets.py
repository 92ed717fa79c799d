"""Listing, describing and deleting datasets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from db.models import Case, Dataset, Mask, Series, Slice
from db.session import Database
from engine.errors import NotFoundError


def _counts(session, dataset_id: int) -> dict[str, int]:
    cases = select(Case.id).where(Case.dataset_id == dataset_id)
    series = select(Series.id).where(Series.case_id.in_(cases))
    return {
        "cases": session.scalar(select(func.count()).select_from(Case).where(Case.dataset_id == dataset_id)),
        "series": session.scalar(select(func.count()).select_from(Series).where(Series.case_id.in_(cases))),
        "slices": session.scalar(select(func.count()).select_from(Slice).where(Slice.series_id.in_(series))),
        "masks": session.scalar(select(func.count()).select_from(Mask).where(Mask.case_id.in_(cases))),
    }


def list_datasets(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        return [
            {"id": dataset.id, "name": dataset.name, "kind": dataset.kind,
             "data_root": dataset.data_root, "synthetic": dataset.is_synthetic,
             **_counts(session, dataset.id)}
            for dataset in session.scalars(select(Dataset).order_by(Dataset.name))
        ]


def get_dataset(db: Database, name: str) -> dict[str, Any]:
    with db.session() as session:
        dataset = session.scalar(select(Dataset).where(Dataset.name == name))
        if dataset is None:
            raise NotFoundError(f"dataset '{name}' not found; list datasets with 'neuroonco datasets list'")
        return {"id": dataset.id, "name": dataset.name, "kind": dataset.kind,
                "data_root": dataset.data_root, "description": dataset.description,
                "synthetic": dataset.is_synthetic, "created_at": dataset.created_at,
                **_counts(session, dataset.id)}


def delete_dataset(db: Database, name: str) -> dict[str, int]:
    """Delete a dataset and everything under it; return what was deleted."""
    with db.session(write=True) as session:
        dataset = session.scalar(select(Dataset).where(Dataset.name == name))
        if dataset is None:
            raise NotFoundError(f"dataset '{name}' not found; list datasets with 'neuroonco datasets list'")
        counts = _counts(session, dataset.id)
        session.delete(dataset)
    return counts
