"""Importing images and masks into the database: plan, load, then write in one transaction.

The type of each file is found from its content. Folders are walked: a BraTS case
folder, an MM-NeuroOnco data root (or part of one), a folder of NIfTI files. All files are
read and checked before the write transaction starts, and the write is one transaction,
so a failure anywhere leaves no rows. Content already imported (same sha256 in the same
case) is skipped, so importing the same files again adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from db.session import Database
from engine.io.loading import load_plan
from engine.io.planner import build_plan
from engine.io.plan import ImportPlan
from engine.io.store import dataset_for_import, write_cases
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

_SHOWN_SKIPPED = 5


@dataclass
class ImportSummary:
    """Counts of the rows one import added and of the rows it found already present."""

    dataset: str
    data_root: str | None
    dataset_added: bool
    added: dict[str, int]
    present: dict[str, int]
    skipped: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    nonfinite_voxels: int = 0

    @property
    def added_anything(self) -> bool:
        return self.dataset_added or any(self.added.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Return the summary as short lines for a terminal."""
        where = f"dataset '{self.dataset}'" + (f" (data root {self.data_root})" if self.data_root else "")
        if not self.added_anything:
            lines = [f"nothing new: all {_counts(self.present)} were already in {where}"]
        else:
            lines = [f"{'created' if self.dataset_added else 'updated'} {where}",
                     f"added: {_counts(self.added)}"]
            if any(self.present.values()):
                lines.append(f"already present: {_counts(self.present)}")
        if self.nonfinite_voxels:
            lines.append(f"{self.nonfinite_voxels} NaN or infinite voxels stored as NaN")
        for title, entries in (("skipped", self.skipped), ("same content as another file", self.duplicates)):
            if entries:
                lines.append(f"{title}: {len(entries)} file{'s' if len(entries) != 1 else ''}")
                lines.extend(f"  {entry}" for entry in entries[:_SHOWN_SKIPPED])
                if len(entries) > _SHOWN_SKIPPED:
                    lines.append(f"  ... and {len(entries) - _SHOWN_SKIPPED} more (see --json)")
        return lines


_SINGULAR = {"cases": "case", "series": "series", "slices": "slice", "masks": "mask"}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{value} {name if value != 1 else _SINGULAR.get(name, name)}"
                     for name, value in counts.items())


def default_dataset_name(paths: Sequence[Path], plan: ImportPlan) -> str:
    """Name a dataset after its data root, else after the first path (without .nii.gz)."""
    source = plan.data_root or Path(paths[0]).absolute()
    name = source.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name or "imported"


def import_paths(db: Database, paths: Sequence[Path | str], dataset: str | None = None,
                 data_root: Path | str | None = None, volume_index: int = 0,
                 masks: Sequence[Path | str] = (), progress: Progress | None = None) -> ImportSummary:
    """Import the images and masks under ``paths`` into ``dataset``; return what changed.

    ``data_root`` is the root of an MM-NeuroOnco layout (found from folder names when
    omitted), ``volume_index`` the volume of 4D NIfTI files, ``masks`` masks that lie on
    every image of the import. Raises InvalidInputError (one line naming the file and
    the fix) for bad input; the database is then unchanged.
    """
    progress = progress or NullProgress()
    paths = [Path(path) for path in paths]
    plan = build_plan(paths, Path(data_root) if data_root else None, [Path(mask) for mask in masks])
    loaded = load_plan(plan, volume_index, progress)
    name = dataset or default_dataset_name(paths, plan)
    root = str(plan.data_root) if plan.data_root else None

    progress.start(len(loaded.cases), "writing to the database")
    # No progress reports inside the transaction: a job's progress writes its job row,
    # which on SQLite waits for the write lock that this transaction holds.
    with db.session(write=True) as session:
        dataset_row, dataset_added = dataset_for_import(session, name, plan.dataset_kind, root)
        counts = write_cases(session, dataset_row, loaded.cases)
        summary = ImportSummary(name, dataset_row.data_root, dataset_added, counts.added,
                                counts.present, plan.skipped, loaded.duplicates, loaded.nonfinite)
    progress.advance(len(loaded.cases))
    log.info("import into dataset '%s': added %s; already present %s", name,
             _counts(summary.added), _counts(summary.present))
    return summary
