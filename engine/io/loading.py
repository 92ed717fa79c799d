"""Load the files of an import plan into row records, checking every mask against its image.

Nothing here touches the database: a bad file stops the import before any row is
written. Each file is read and hashed once; a mask shared by several images (a BraTS
label map, a case's ``_seg`` image) is loaded once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InvalidInputError
from engine.io import detect, image2d, masks, nifti, yolo
from engine.io.dicom_loading import load_dicom_input
from engine.io.plan import CasePlan, ImageSource, ImportPlan, MaskSource
from engine.io.store import CaseRecord, MaskRecord, SeriesRecord, series_values
from engine.io.volume import Volume, axial_axis, sha256_bytes, sha256_file
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

_MASK_FILE_FORMATS = {masks.LABEL_MAP: "nifti", masks.YOLO: "yolo-txt"}


@dataclass
class LoadResult:
    cases: list[CaseRecord] = field(default_factory=list)
    nonfinite: int = 0  # NaN/Inf voxels over all images
    duplicates: list[str] = field(default_factory=list)  # "path: same content as other"


@dataclass
class LoadedMask:
    """The part of a mask file that an import keeps: its row values and its grid for the checks."""

    source: MaskSource
    values: dict[str, Any]
    shape: tuple[int, ...] | None  # None for YOLO polygons (they take the image's size)
    affine: np.ndarray | None  # label maps only
    slices: list[int] | None  # slice indexes with foreground; None for YOLO until drawn
    polygons: list[yolo.Polygon] | None = None


def load_image_source(image: ImageSource, volume_index: int) -> Volume:
    """Load one planned image file as a Volume with its modality set."""
    if image.file_type == detect.NIFTI:
        volume = nifti.load_nifti(image.path, volume_index)
    else:
        volume = image2d.load_image(image.path)
    volume.modality = image.modality
    return volume


def load_mask_source(mask: MaskSource) -> LoadedMask:
    """Load a planned mask file and work out its Mask row values (without the image checks)."""
    if mask.kind == masks.LABEL_MAP:
        label_map = masks.read_label_map(mask.path)
        names = masks.label_names(label_map.values(), mask.path, brats=mask.brats)
        values = _mask_values(mask, sha256_file(mask.path), label_map.labels.shape, names)
        axis = axial_axis(label_map.affine)  # the image's slice axis, since the grids match
        other_axes = tuple(other for other in range(3) if other != axis)
        slices = np.flatnonzero(label_map.labels.any(axis=other_axes)).tolist()
        return LoadedMask(mask, values, label_map.labels.shape, label_map.affine, slices)

    content = mask.path.read_bytes()
    if mask.kind == masks.YOLO:
        polygons = yolo.read_yolo(mask.path, content)
        name = ", ".join(yolo.class_names(polygons)) or masks.FOREGROUND_NAME
        values = _mask_values(mask, sha256_bytes(content), None, {"1": name})
        return LoadedMask(mask, values, None, None, None, polygons)

    pixels = image2d.decode_pixels(content, mask.path)
    shape = tuple(pixels.shape[:2])
    values = _mask_values(mask, sha256_bytes(content), shape, {"1": masks.FOREGROUND_NAME})
    values["file_format"] = image2d.image_file_type(content)
    has_foreground = bool(masks.foreground(image2d.to_gray(pixels)).any())
    return LoadedMask(mask, values, shape, None, [0] if has_foreground else [])


def _mask_values(mask: MaskSource, sha: str, shape, names: dict[str, str]) -> dict[str, Any]:
    return dict(
        kind=mask.kind,
        file_format=_MASK_FILE_FORMATS.get(mask.kind, detect.PNG),
        source_path=str(mask.path),
        content_sha256=sha,
        shape=[int(n) for n in shape] if shape is not None else None,
        label_names=names,
        is_synthetic=False,
    )


@dataclass(frozen=True)
class Grid:
    """The voxel grid of a loaded image: what a mask must match."""

    shape: tuple[int, ...]
    affine: np.ndarray | None  # None for 2D images without geometry

    @classmethod
    def of(cls, volume: Volume) -> Grid:
        return cls(tuple(volume.data.shape), volume.affine if volume.has_geometry else None)


def check_mask_on_image(loaded: LoadedMask, image: Path, grid: Grid) -> None:
    """Raise InvalidInputError naming both files unless the mask lies on the image's grid."""
    mask_path = loaded.source.path
    is_label_map = loaded.source.kind == masks.LABEL_MAP
    if is_label_map != (grid.affine is not None):
        mask_kind = "a NIfTI label map" if is_label_map else "a 2D mask"
        image_kind = "a volume" if grid.affine is not None else "a 2D image"
        raise InvalidInputError(
            f"mask '{mask_path}' is {mask_kind} but image '{image}' is {image_kind}; "
            "pair 2D masks with 2D images and label maps with volumes"
        )
    if loaded.shape is None:  # YOLO polygons are drawn at the image's size
        return
    masks.check_same_grid(mask_path, loaded.shape, image, grid.shape, loaded.affine, grid.affine)


def load_plan(plan: ImportPlan, volume_index: int = 0, progress: Progress | None = None) -> LoadResult:
    """Load every image and mask of ``plan``; raise InvalidInputError on the first bad file."""
    progress = progress or NullProgress()
    mask_count = sum(len(case.masks) for case in plan.cases.values())
    progress.start(plan.image_count + mask_count + len(plan.dicom_inputs), "reading files")
    result = LoadResult()
    mask_cache: dict[Path, LoadedMask] = {}
    for case in plan.cases.values():
        result.cases.append(_load_case(case, volume_index, mask_cache, result, progress))
    for path in plan.dicom_inputs:
        cases, nonfinite, duplicates = load_dicom_input(path, progress)
        result.cases.extend(cases)
        result.nonfinite += nonfinite
        result.duplicates.extend(duplicates)
        progress.advance()
    if result.nonfinite:
        log.warning("%d voxels in total were NaN or infinite; they are stored as NaN",
                    result.nonfinite)
    return result


def _load_case(case: CasePlan, volume_index: int, mask_cache: dict[Path, LoadedMask],
               result: LoadResult, progress: Progress) -> CaseRecord:
    record = CaseRecord(case.pseudonym, case.tumour_type, case.source)
    grids: dict[Path, tuple[int, Grid]] = {}
    seen: dict[tuple[str, int], Path] = {}
    for image in case.images:
        volume = load_image_source(image, volume_index)
        progress.advance(message=f"reading {image.path.name}")
        result.nonfinite += volume.nonfinite_count
        key = (volume.content_sha256, volume.volume_index)
        if key in seen:
            # One series per content within a case (the database enforces it).
            result.duplicates.append(f"{image.path}: same content as {seen[key]}")
            grids[image.path] = grids[seen[key]]
            continue
        seen[key] = image.path
        grids[image.path] = (len(record.series), Grid.of(volume))
        record.series.append(SeriesRecord(series_values(volume), volume.slice_count, image.image_path))

    if case.one_grid:
        check_one_grid(case, grids)
    for mask in case.masks:
        if mask.path not in mask_cache:
            mask_cache[mask.path] = load_mask_source(mask)
        loaded = mask_cache[mask.path]
        progress.advance(message=f"reading {mask.path.name}")
        record.masks.append(_mask_record(loaded, mask, grids))
    return record


def check_one_grid(case: CasePlan, grids: dict[Path, tuple[int, Grid]]) -> None:
    """Raise InvalidInputError naming two images of ``case`` that lie on different grids."""
    first_path, (_, first) = next(iter(grids.items()))
    for path, (_, grid) in grids.items():
        same_affine = np.allclose(grid.affine, first.affine, rtol=0, atol=masks.AFFINE_TOLERANCE_MM)
        if grid.shape != first.shape or not same_affine:
            affines = "equal affines" if same_affine else "different affines"
            raise InvalidInputError(
                f"case '{case.pseudonym}': images '{first_path}' and '{path}' are on different "
                f"grids (shapes {first.shape} and {grid.shape}, {affines}); the modalities of a "
                "BraTS case must be co-registered on one grid, so export them that way"
            )


def _mask_record(loaded: LoadedMask, mask: MaskSource,
                 grids: dict[Path, tuple[int, Grid]]) -> MaskRecord:
    indexes: list[int] = []
    values = dict(loaded.values)
    slices = loaded.slices
    for image in mask.images:
        index, grid = grids[image]
        check_mask_on_image(loaded, image, grid)
        if values["shape"] is None:
            values["shape"] = list(grid.shape)
            slices = [0] if yolo.rasterise(loaded.polygons, grid.shape).any() else []
        elif loaded.shape is None and list(grid.shape) != values["shape"]:
            raise InvalidInputError(
                f"YOLO label file '{mask.path}' is shared by images of different sizes "
                f"({tuple(values['shape'])} and {grid.shape}, '{image}'); give each image its own "
                "label file"
            )
        if index not in indexes:
            indexes.append(index)
    return MaskRecord(values, indexes, slices)
