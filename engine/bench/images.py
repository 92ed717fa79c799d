"""Benchmark images under a data root: presence checks and links to imported slices.

Benchmark files only name their images (the MM-NeuroOnco images are gated and distributed
apart from the questions), so items are imported without them and marked
``image_missing``. Setting a data root checks which images exist under it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Benchmark, BenchmarkItem, Case, Dataset, Series, Slice
from db.session import Database
from engine.bench.catalog import get_benchmark
from engine.errors import InvalidInputError
from engine.io.benchmark_paths import OutsideRootError, resolve_in_root
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

# Missing image paths kept in a presence report, as examples.
MISSING_EXAMPLES = 5
# Item ids shown in an error message before "and N more".
SHOWN_ITEM_IDS = 5


@dataclass
class ImagePresence:
    """Presence of each item's image under a data root, by item id."""

    data_root: str
    present: dict[int, bool] = field(default_factory=dict)
    missing_examples: list[str] = field(default_factory=list)

    @property
    def present_count(self) -> int:
        return sum(self.present.values())

    @property
    def missing_count(self) -> int:
        return len(self.present) - self.present_count

    def to_dict(self) -> dict:
        return {"data_root": self.data_root, "present": self.present_count,
                "missing": self.missing_count, "missing_examples": self.missing_examples}


def validate_data_root(directory: str | Path) -> Path:
    """Return ``directory`` as an absolute path; raise InvalidInputError unless it is a folder."""
    path = Path(os.path.abspath(os.path.expanduser(str(directory))))
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise InvalidInputError(f"data root '{directory}' {what}; pass the folder that holds "
                                "the benchmark's class folders (glioma/, healthy/, ...)")
    return path


def check_images(root: Path, items: Iterable[tuple[int, str]],
                 progress: Progress | None = None) -> ImagePresence:
    """Check that each ``(item_id, image_path)`` names a file under ``root``.

    Symlinks are followed, but one that leads out of ``root`` raises InvalidInputError
    listing the item ids, because such an image is not part of the data root.
    """
    progress = progress or NullProgress()
    items = list(items)
    progress.start(len(items), "checking images")
    presence = ImagePresence(str(root))
    outside: list[tuple[int, OutsideRootError]] = []
    for item_id, image_path in items:
        try:
            exists = resolve_in_root(root, image_path).is_file()
        except OutsideRootError as error:
            outside.append((item_id, error))
            exists = False
        presence.present[item_id] = exists
        if not exists and len(presence.missing_examples) < MISSING_EXAMPLES:
            presence.missing_examples.append(image_path)
        progress.advance()

    if outside:
        ids = ", ".join(str(item_id) for item_id, _ in outside[:SHOWN_ITEM_IDS])
        if len(outside) > SHOWN_ITEM_IDS:
            ids += f" and {len(outside) - SHOWN_ITEM_IDS} more"
        raise InvalidInputError(
            f"data root '{root}': the images of {len(outside)} items ({ids}) lead out of it "
            f"through symlinks, for example {outside[0][1]}; copy those images into the data "
            "root or remove the links")
    return presence


def apply_presence(session: Session, benchmark: Benchmark, presence: ImagePresence) -> None:
    """Store the data root and each item's ``image_missing`` flag, then link the slices."""
    benchmark.data_root = presence.data_root
    for item in session.scalars(select(BenchmarkItem)
                                .where(BenchmarkItem.benchmark_id == benchmark.id)):
        item.image_missing = not presence.present.get(item.item_id, False)
    session.flush()
    link_items_to_slices(session, benchmark)


def images_dataset_name(benchmark_name: str) -> str:
    return f"{benchmark_name} images"


def import_present_images(db: Database, benchmark_name: str, root: Path,
                          items: Iterable[tuple[int, str]], presence: ImagePresence,
                          progress: Progress | None = None) -> int | None:
    """Import the present images (with their masks) into the benchmark's images dataset.

    The images go through the MM-NeuroOnco layout importer with ``root`` as data root, so
    their masks are paired by the published per-source rules, and mask semantics are
    computed for the semantics-oracle baseline and the viewer. Returns the dataset id, or
    None when no image is present. Importing again adds only what is new.
    """
    from engine.io.importer import import_paths
    from engine.semantics.store import compute_dataset

    paths = sorted({str(root / image_path) for item_id, image_path in items
                    if presence.present.get(item_id)})
    if not paths:
        return None
    dataset = images_dataset_name(benchmark_name)
    summary = import_paths(db, paths, dataset=dataset, data_root=root, progress=progress)
    from engine.semantics.store import dataset_id_by_name

    dataset_id = dataset_id_by_name(db, summary.dataset)
    compute_dataset(db, dataset_id, progress)
    return dataset_id


def set_data_root(db: Database, name: str, directory: str | Path,
                  progress: Progress | None = None, import_images: bool = True) -> ImagePresence:
    """Set the data root of benchmark ``name``, update each item's ``image_missing`` and link
    the present images to imported slices.

    With ``import_images`` the present images are imported first (see
    :func:`import_present_images`). Raises NotFoundError for an unknown benchmark and
    InvalidInputError for a missing folder, symlinks out of it or a bad image; then the
    benchmark is unchanged.
    """
    root = validate_data_root(directory)
    with db.session() as session:
        benchmark_id = get_benchmark(session, name).id
        items = session.execute(select(BenchmarkItem.item_id, BenchmarkItem.image_path)
                                .where(BenchmarkItem.benchmark_id == benchmark_id)).all()

    # Checked before the write transaction: on SQLite a job's progress writes the job row,
    # which waits for the write lock that an open import transaction holds.
    presence = check_images(root, items, progress)
    images_dataset = None
    if import_images:
        images_dataset = import_present_images(db, name, root, items, presence, progress)
    with db.session(write=True) as session:
        benchmark = get_benchmark(session, name)
        if images_dataset is not None:
            benchmark.images_dataset_id = images_dataset
        apply_presence(session, benchmark, presence)
    log.info("benchmark %s: data root %s, %d images present, %d missing", name, root,
             presence.present_count, presence.missing_count)
    return presence


def link_items_to_slices(session: Session, benchmark: Benchmark) -> int:
    """Link each item to the imported slice of its image; return how many items are linked.

    A slice matches when its dataset has the benchmark's data root (compared as real paths)
    and its ``image_path`` equals the item's. Items without a match keep ``slice_id`` None.
    """
    slices = _slices_by_image_path(session, benchmark.data_root, benchmark.images_dataset_id)
    linked = 0
    for item in session.scalars(select(BenchmarkItem)
                                .where(BenchmarkItem.benchmark_id == benchmark.id)):
        item.slice_id = slices.get(item.image_path)
        linked += item.slice_id is not None
    session.flush()
    return linked


def _slices_by_image_path(session: Session, data_root: str | None,
                          preferred_dataset: int | None = None) -> dict[str, int]:
    """Return the ids of imported 2D slices by image path, from datasets at ``data_root``.

    When several datasets hold the same path, the benchmark's own images dataset
    (``preferred_dataset``) wins.
    """
    if data_root is None:
        return {}
    root = os.path.realpath(data_root)
    datasets = [dataset.id for dataset in session.scalars(
        select(Dataset).where(Dataset.data_root.is_not(None)))
        if os.path.realpath(dataset.data_root) == root]
    if not datasets:
        return {}
    rows = session.execute(
        select(Slice.image_path, Slice.id, Case.dataset_id)
        .join(Series, Slice.series_id == Series.id)
        .join(Case, Series.case_id == Case.id)
        .where(Case.dataset_id.in_(datasets), Slice.image_path.is_not(None))
        .order_by(Slice.id)
    ).all()
    rows.sort(key=lambda row: row.dataset_id == preferred_dataset)
    return {row.image_path: row.id for row in rows}
