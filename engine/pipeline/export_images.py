"""Writing the images of exported samples under an export folder.

Each sample's image lands at ``<folder>/<sample id>``, so the exported ``image_path`` values
resolve with the folder as data root. Volume slices are rendered to PNG (display frame,
window from the series' 1st to 99th intensity percentile) with their whole-lesion mask
beside them as ``<name>_mask.png`` (0 and 255). 2D images are copied unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Iterable

from sqlalchemy import select

from db.models import Mask
from db.session import Database
from engine.errors import InvalidInputError, NotFoundError
from engine.io.benchmark_paths import image_path_problem
from engine.pipeline.images import MaskSource, SliceImages, write_png
from engine.pipeline.samples import Sample
from engine.progress import Progress


def mask_image_path(sample_id: str) -> str:
    """Return the path of a rendered slice's mask: ``<dir>/<stem>_mask.png``."""
    path = PurePosixPath(sample_id)
    return str(path.with_name(f"{path.stem}_mask.png"))


def write_sample_images(db: Database, samples: Iterable[Sample], folder: Path,
                        progress: Progress) -> dict[str, int]:
    """Write the images (and volume masks) of ``samples`` under ``folder``; return counts.

    Raises InvalidInputError for an unsafe image path or a mask file that is missing or
    changed since its import, and NotFoundError for a missing image file.
    """
    samples = sorted(samples, key=lambda sample: sample.sample_id)
    mask_ids = {sample.mask.mask_id for sample in samples if sample.mask is not None}
    with db.session() as session:
        masks = {row.id: MaskSource(row.id, row.source_path, row.kind, row.content_sha256,
                                    row.shape)
                 for row in session.execute(
                     select(Mask.id, Mask.source_path, Mask.kind, Mask.content_sha256, Mask.shape)
                     .where(Mask.id.in_(mask_ids)))}

    renderer = SliceImages()
    counts = {"rendered": 0, "copied": 0, "masks": 0}
    progress.start(len(samples), "writing images")
    for sample in samples:
        problem = image_path_problem(sample.sample_id)
        if problem:
            raise InvalidInputError(f"slice {sample.slice_id} cannot be exported: {problem}")
        target = folder / sample.sample_id
        if sample.series_kind == "volume":
            write_png(target, renderer.image(sample))
            counts["rendered"] += 1
            if sample.mask is not None and sample.mask.mask_id in masks:
                mask = renderer.mask(sample, masks[sample.mask.mask_id])
                write_png(folder / mask_image_path(sample.sample_id), mask)
                counts["masks"] += 1
        else:
            _copy(Path(sample.source_path), target)
            counts["copied"] += 1
        progress.advance()
    return counts


def _copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise NotFoundError(f"image file '{source}' not found; the dataset's files have moved "
                            "or were deleted")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
