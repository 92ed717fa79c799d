"""Mask semantics of 3D label maps: per axial slice and region, plus a volume summary.

Regions follow the BraTS label conventions:

- WT (whole tumour): every label > 0;
- TC (tumour core): necrotic core and enhancing tumour, labels 1 and 4 (BraTS 1/2/4) or
  1 and 3 (BraTS 1/2/3);
- ET (enhancing tumour): label 4, or 3.

:func:`detect_convention` detects the convention from the labels present; label sets that fit
neither give WT alone. Slices are taken along the axial axis of the affine and analysed in
the radiological display frame of ``engine.io.volume.slice_frame`` (anterior at the top, the
patient's right on the left), so "Upper-Left" is the upper left of the slice as the viewer
shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidInputError
from engine.io.volume import RADIOLOGICAL, SliceFrame, axial_axis, slice_frame
from engine.semantics.rules import MaskSemantics, mask_semantics

WT, TC, ET = "WT", "TC", "ET"

BRATS_124 = "brats-1/2/4"  # 1 necrotic core, 2 oedema, 4 enhancing tumour (BraTS 2021 and earlier)
BRATS_123 = "brats-1/2/3"  # the same with enhancing tumour relabelled 3 (as in BraTS 2023)
BRATS_WITHOUT_ENHANCING = "brats-1/2"  # necrotic core and oedema only: both numberings agree
WHOLE_TUMOUR_ONLY = "whole-tumour-only"

_REGION_LABELS = {
    BRATS_124: {WT: None, TC: (1, 4), ET: (4,)},
    BRATS_123: {WT: None, TC: (1, 3), ET: (3,)},
    BRATS_WITHOUT_ENHANCING: {WT: None, TC: (1,), ET: ()},
    WHOLE_TUMOUR_ONLY: {WT: None},
}
CONVENTIONS = tuple(_REGION_LABELS)


@dataclass(frozen=True, slots=True)
class RegionSummary:
    """Volume summary of one region of a label map.

    ``volume_ml`` is ``voxel_count`` times the voxel volume (|det| of the affine's 3x3 part,
    in mm^3) over 1000. ``largest_slice_index`` is the axial slice index (along the volume's
    axial axis, the first on a tie) with the most region voxels, ``largest_slice_area_px``
    that count; None and 0 for an empty region.
    """

    region: str
    voxel_count: int
    volume_ml: float
    slices_with_lesion: int
    largest_slice_index: int | None
    largest_slice_area_px: int


def detect_convention(labels: np.ndarray) -> str:
    """Return the label convention of a label map from the label values > 0 it contains.

    Label 4 with only 1 and 2 besides is BraTS 1/2/4; label 3 with only 1 and 2 besides is
    BraTS 1/2/3; exactly labels 1 and 2 is BraTS without enhancing tumour. Anything else,
    including a single label 1 (a binary lesion mask), an empty map, 3 and 4 together or
    labels above 4, gives WT alone.
    """
    present = {int(value) for value in np.unique(labels) if value > 0}
    if 4 in present and present <= {1, 2, 4}:
        return BRATS_124
    if 3 in present and present <= {1, 2, 3}:
        return BRATS_123
    if present == {1, 2}:
        return BRATS_WITHOUT_ENHANCING
    return WHOLE_TUMOUR_ONLY


def region_masks(labels: np.ndarray, convention: str | None = None) -> dict[str, np.ndarray]:
    """Return a boolean mask per region (WT, then TC and ET where the convention has them).

    ``convention`` is one of CONVENTIONS, or None to detect it. Raises InvalidInputError for
    a label map that is not 3D or has non-integer values, and for an unknown convention.
    """
    _check_labels(labels)
    if convention is None:
        convention = detect_convention(labels)
    if convention not in _REGION_LABELS:
        raise InvalidInputError(
            f"unknown label convention {convention!r}; use one of {', '.join(CONVENTIONS)}")

    masks = {}
    for region, values in _REGION_LABELS[convention].items():
        masks[region] = labels > 0 if values is None else np.isin(labels, values)
    return masks


def slice_semantics(labels: np.ndarray, affine: np.ndarray, convention: str | None = None,
                    ) -> dict[str, list[MaskSemantics | None]]:
    """Compute the semantics of every axial slice for each region.

    Returns, per region, a list indexed by slice (along the affine's axial axis) holding the
    semantics of that slice in the radiological display frame, or None where the region is
    absent from the slice. Raises InvalidInputError for a bad label map or affine.
    """
    axis, frame = _axial_frame(labels, affine)
    result = {}
    for region, mask in region_masks(labels, convention).items():
        per_slice: list[MaskSemantics | None] = [None] * mask.shape[axis]
        for index in np.flatnonzero(_slice_areas(mask, axis)):
            plane = frame.to_display(np.take(mask, index, axis=axis))
            per_slice[index] = mask_semantics(plane)
        result[region] = per_slice
    return result


def region_summaries(labels: np.ndarray, affine: np.ndarray, convention: str | None = None,
                     ) -> dict[str, RegionSummary]:
    """Summarise each region: voxel count, volume in mL, slices with lesion, largest slice.

    Raises InvalidInputError for a bad label map or affine.
    """
    axis, _ = _axial_frame(labels, affine)
    voxel_ml = abs(float(np.linalg.det(np.asarray(affine, dtype=float)[:3, :3]))) / 1000.0
    summaries = {}
    for region, mask in region_masks(labels, convention).items():
        areas = _slice_areas(mask, axis)
        voxels = int(areas.sum())
        largest = int(np.argmax(areas)) if voxels else None
        summaries[region] = RegionSummary(
            region=region,
            voxel_count=voxels,
            volume_ml=voxels * voxel_ml,
            slices_with_lesion=int(np.count_nonzero(areas)),
            largest_slice_index=largest,
            largest_slice_area_px=int(areas[largest]) if voxels else 0,
        )
    return summaries


def display_slice_foreground(labels: np.ndarray, affine: np.ndarray, index: int) -> np.ndarray:
    """Return slice ``index`` of ``labels > 0`` along the axial axis, in the display frame.

    Any value > 0 is foreground, so float maps need not hold integers here. Raises
    InvalidInputError when ``index`` is outside the volume, for a label map that is not 3D
    and for a singular affine.
    """
    axis, frame = _axial_frame(labels, affine)
    count = labels.shape[axis]
    if not 0 <= index < count:
        raise InvalidInputError(
            f"slice {index} is out of range: the label map has {count} axial slices "
            f"(array axis {axis}); use a slice from 0 to {count - 1}")
    return frame.to_display(np.take(labels, index, axis=axis) > 0)


def axial_slice_count(labels: np.ndarray, affine: np.ndarray) -> int:
    """Return the number of slices along the axial axis. Raises InvalidInputError for a
    label map that is not 3D or a singular affine."""
    axis, _ = _axial_frame(labels, affine)
    return int(labels.shape[axis])


def _axial_frame(labels: np.ndarray, affine: np.ndarray) -> tuple[int, SliceFrame]:
    _check_dimensions(labels)
    _check_affine(affine)
    axis = axial_axis(affine)
    return axis, slice_frame(affine, axis, RADIOLOGICAL)


def _slice_areas(mask: np.ndarray, axis: int) -> np.ndarray:
    """Return the region's voxel count on each slice along ``axis``."""
    in_plane = tuple(other for other in range(3) if other != axis)
    return np.count_nonzero(mask, axis=in_plane)


def _check_dimensions(labels: np.ndarray) -> None:
    if labels.ndim != 3:
        raise InvalidInputError(
            f"a label map must be 3D, got shape {labels.shape}; pass 2D masks to mask_semantics")


def _check_labels(labels: np.ndarray) -> None:
    _check_dimensions(labels)
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
            raise InvalidInputError(
                "a label map must hold integer labels, but it has non-integer or non-finite "
                "values; round or threshold a probability map before computing semantics")
    elif labels.dtype.kind not in "biu":
        raise InvalidInputError(f"a label map must hold integer labels, got dtype {labels.dtype}")


def _check_affine(affine: np.ndarray) -> None:
    matrix = np.asarray(affine, dtype=float)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise InvalidInputError(f"an affine must be a finite 4x4 matrix, got shape {matrix.shape}")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise InvalidInputError(
            "the affine is singular (its 3x3 part has determinant 0), so slice orientation "
            "and voxel volume are undefined; fix the header's sform/qform")
