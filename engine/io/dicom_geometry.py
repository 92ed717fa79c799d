"""Grouping DICOM frames into volumes, ordering slices and building the voxel-to-world affine.

Slices are ordered by ImagePositionPatient projected on the slice normal (the cross
product of the row and column direction cosines), never by InstanceNumber alone:
InstanceNumber is often missing, restarted or reversed. InstanceNumber is the fallback
only when positions are missing or all identical, and the result's warnings record that.

Voxel ``(i, j, k)`` is column ``i``, row ``j`` of the ``k``-th slice in that order. The
affine maps it to DICOM patient coordinates (LPS, mm); :func:`lps_to_ras` gives the RAS+
affine that :class:`engine.io.volume.Volume` stores.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InvalidInputError
from engine.io.dicom_frames import SPLIT_ATTRIBUTES, Frame

ORIENTATION_DECIMALS = 4  # cosines equal to 1e-4 belong to one stack
POSITION_TOLERANCE_MM = 1e-3
UNEVEN_GAP_FRACTION = 0.01  # gaps that differ by more than 1 % of the mean gap are uneven
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class StackGeometry:
    """Frames in slice order with their affine (LPS) and what the reader had to assume."""

    frames: list[Frame]
    affine_lps: np.ndarray
    positions: np.ndarray | None  # (K, 3) LPS positions of the slices, when known
    has_geometry: bool
    warnings: list[str] = field(default_factory=list)


def lps_to_ras(affine_lps: np.ndarray) -> np.ndarray:
    """Return the RAS+ affine of an LPS affine (x and y negated)."""
    return LPS_TO_RAS @ affine_lps


def slice_normal(orientation: np.ndarray) -> np.ndarray:
    return np.cross(orientation[:3], orientation[3:])


def group_frames(frames: list[Frame]) -> list[list[Frame]]:
    """Group frames by SeriesInstanceUID and orientation; drop repeated SOP instances."""
    groups: dict[tuple, list[Frame]] = defaultdict(list)
    seen: set[str] = set()
    for frame in frames:
        if frame.instance_uid and frame.instance_uid in seen:
            continue
        seen.add(frame.instance_uid)
        orientation = None
        if frame.orientation is not None:
            orientation = tuple(np.round(frame.orientation, ORIENTATION_DECIMALS) + 0.0)
        groups[(frame.series_uid, orientation)].append(frame)
    return list(groups.values())


def _projections(frames: list[Frame]) -> np.ndarray | None:
    if any(frame.position is None or frame.orientation is None for frame in frames):
        return None
    normal = slice_normal(frames[0].orientation)
    return np.array([float(np.dot(frame.position, normal)) for frame in frames])


def _has_repeats(values: np.ndarray) -> bool:
    ordered = np.sort(values)
    return bool(np.any(np.diff(ordered) < POSITION_TOLERANCE_MM))


def split_volumes(frames: list[Frame], where: Path) -> list[list[Frame]]:
    """Split a group whose frames repeat slice positions into volumes (echoes, time points, stacks).

    Tries :data:`SPLIT_ATTRIBUTES` in turn and takes the first that leaves no repeated
    position in any part. Raises InvalidInputError naming ``where`` when none does. A
    group whose positions are all identical, or missing, stays whole: it is ordered by
    InstanceNumber later.
    """
    projections = _projections(frames)
    if projections is None or len(frames) == 1 or not _has_repeats(projections):
        return [frames]
    if np.ptp(projections) < POSITION_TOLERANCE_MM:
        return [frames]

    for name in SPLIT_ATTRIBUTES:
        parts: dict[object, list[Frame]] = defaultdict(list)
        for frame in frames:
            parts[frame.split_values.get(name)].append(frame)
        if len(parts) < 2:
            continue
        if all(not _has_repeats(_projections(part)) for part in parts.values()):
            return [parts[key] for key in sorted(parts, key=_sort_key)]

    distinct = len(np.unique(np.round(projections / POSITION_TOLERANCE_MM)))
    raise InvalidInputError(
        f"{len(frames)} images of one DICOM series in {where} lie at only {distinct} slice "
        "positions, and no echo, time, stack or b-value attribute separates them into volumes; "
        "put each volume in its own folder and import them one by one"
    )


def _sort_key(value: object) -> tuple:
    if value is None:
        return (0, 0.0, "")
    try:
        return (1, float(value if not isinstance(value, tuple) else value[0]), "")
    except (TypeError, ValueError):
        return (2, 0.0, str(value))


def check_same_grid(frames: list[Frame], where: Path) -> None:
    """Raise InvalidInputError when the frames of one volume differ in size or pixel spacing."""
    sizes = {(frame.rows, frame.columns) for frame in frames}
    if len(sizes) > 1:
        raise InvalidInputError(
            f"images of one DICOM series in {where} have different sizes {sorted(sizes)}; "
            "they cannot form one volume, so import them as separate series"
        )
    spacings = {frame.pixel_spacing for frame in frames if frame.pixel_spacing is not None}
    if len(spacings) > 1 and np.ptp(np.array(sorted(spacings)), axis=0).max() > 1e-4:
        raise InvalidInputError(
            f"images of one DICOM series in {where} have different pixel spacings "
            f"{sorted(spacings)}; they cannot form one volume"
        )


def _instance_order(frames: list[Frame]) -> list[Frame]:
    def key(frame: Frame) -> tuple:
        number = frame.instance_number if frame.instance_number is not None else 0
        return (number, str(frame.path), frame.frame_index or 0)

    return sorted(frames, key=key)


def _slice_spacing(frame: Frame) -> float | None:
    return frame.spacing_between_slices or frame.slice_thickness


def stack_geometry(frames: list[Frame], where: Path) -> StackGeometry:
    """Order the frames of one volume and build its LPS affine.

    ``where`` (the file or folder) is only used in messages.
    """
    check_same_grid(frames, where)
    first = frames[0]
    warnings: list[str] = []
    projections = _projections(frames)

    if projections is not None and (len(frames) == 1 or np.ptp(projections) >= POSITION_TOLERANCE_MM):
        order = np.argsort(projections, kind="stable")
        ordered = [frames[i] for i in order]
        positions = np.array([frame.position for frame in ordered])
        step, step_warnings = _step_from_positions(ordered, projections[order])
        warnings += step_warnings
        origin = positions[0]
    else:
        ordered = _instance_order(frames)
        positions = None
        if projections is not None:
            warnings.append(
                "all slices have the same ImagePositionPatient, so they were ordered by InstanceNumber"
            )
        elif len(frames) > 1 and all(frame.frame_index is not None for frame in frames):
            warnings.append(
                "the frames have no positions, so slices keep the frame order of the file and "
                "are assumed evenly spaced"
            )
        elif len(frames) > 1:
            warnings.append(
                "slice positions (ImagePositionPatient) are missing, so slices were ordered by "
                "InstanceNumber and are assumed evenly spaced"
            )
        step = None
        origin = ordered[0].position

    orientation = first.orientation
    has_geometry = orientation is not None and first.pixel_spacing is not None and origin is not None
    if not has_geometry:
        warnings.append(
            "the images have no patient geometry (position, orientation or pixel spacing is "
            "missing); the volume uses an axis-aligned grid and cannot be aligned with other series"
        )
    row_spacing, column_spacing = first.pixel_spacing or (1.0, 1.0)
    if has_geometry:
        row_cosine, column_cosine = orientation[:3], orientation[3:]
    else:
        # Chosen so that the RAS affine is diagonal: voxel axes along R, A and S.
        row_cosine, column_cosine, origin, step = np.array([-1.0, 0, 0]), np.array([0, -1.0, 0]), None, None
    if step is None:
        step = np.cross(row_cosine, column_cosine) * (_slice_spacing(first) or 1.0)

    affine = np.eye(4)
    affine[:3, 0] = row_cosine * column_spacing
    affine[:3, 1] = column_cosine * row_spacing
    affine[:3, 2] = step
    affine[:3, 3] = origin if origin is not None else 0.0
    return StackGeometry(ordered, affine, positions, has_geometry, warnings)


def _step_from_positions(ordered: list[Frame], projections: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Return the slice step vector (LPS mm) from the first to the last position, and warnings."""
    warnings: list[str] = []
    if len(ordered) == 1:
        thickness = _slice_spacing(ordered[0])
        if thickness is None:
            warnings.append("a single slice without SliceThickness; its thickness is assumed 1 mm")
        return slice_normal(ordered[0].orientation) * (thickness or 1.0), warnings

    first, last = ordered[0].position, ordered[-1].position
    step = (last - first) / (len(ordered) - 1)
    gaps = np.diff(projections)
    mean_gap = float(gaps.mean())
    if float(gaps.max() - gaps.min()) > UNEVEN_GAP_FRACTION * mean_gap:
        warnings.append(
            f"slice gaps are uneven ({gaps.min():.3f} to {gaps.max():.3f} mm); the affine uses the "
            f"mean gap {mean_gap:.3f} mm, so positions between the first and last slice are approximate"
        )
    normal = slice_normal(ordered[0].orientation)
    if abs(float(np.dot(step, normal))) < (1 - 1e-4) * float(np.linalg.norm(step)):
        warnings.append("slices are not stacked along the slice normal (gantry tilt); the affine is sheared")
    return step, warnings
