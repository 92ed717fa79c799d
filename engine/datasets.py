"""Listing, describing, relocating and deleting datasets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from db.models import Case, Dataset, Mask, Series, Slice
from db.session import Database
from engine.errors import InvalidInputError, NotFoundError


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


@dataclass(frozen=True)
class Relocation:
    """Result of moving a dataset's data root: files found under the new root, and not."""

    data_root: str
    found: int
    missing: int
    missing_examples: tuple[str, ...]


def relocate_dataset(db: Database, dataset_id: int, directory: str | Path) -> Relocation:
    """Point dataset ``dataset_id`` at a new data root, for files moved together with their root.

    The stored paths of series and masks under the old data root are rebased onto
    ``directory``. Nothing changes unless at least one file exists at its new path. Raises
    InvalidInputError when ``directory`` is not a folder, the dataset has no data root, or
    none of its files is under the new root; NotFoundError for an unknown dataset.
    """
    root = Path(os.path.abspath(os.path.expanduser(str(directory))))
    if not root.is_dir():
        raise InvalidInputError(f"data root '{directory}' is not a folder; choose the folder that "
                                "holds the dataset's class folders")
    with db.session(write=True) as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise NotFoundError(f"dataset {dataset_id} not found; list datasets with 'neuroonco datasets list'")
        if not dataset.data_root:
            raise InvalidInputError(f"dataset '{dataset.name}' was not imported from a data root, so its "
                                    "files cannot be moved with one; re-import them from their new folder")
        old_root = Path(dataset.data_root)
        case_ids = select(Case.id).where(Case.dataset_id == dataset_id)
        rows = [*session.scalars(select(Series).where(Series.case_id.in_(case_ids))),
                *session.scalars(select(Mask).where(Mask.case_id.in_(case_ids)))]
        moves = []
        missing = []
        for row in rows:
            try:
                relative = Path(row.source_path).relative_to(old_root)
            except ValueError:
                continue  # imported from outside the data root; left as it is
            target = root / relative
            if target.exists():
                moves.append((row, str(target)))
            else:
                missing.append(str(relative))
        if not moves:
            raise InvalidInputError(
                f"none of the {len(missing)} files of dataset '{dataset.name}' is under '{root}' "
                f"(for example '{missing[0] if missing else '-'}'); choose the folder that holds them")
        for row, target in moves:
            row.source_path = target
        dataset.data_root = str(root)
    return Relocation(str(root), len(moves), len(missing), tuple(missing[:5]))
