"""Per-frame geometry and pixel-value parameters of DICOM images, classic and enhanced.

A classic image file is one frame. An enhanced multi-frame file (Enhanced MR Image
Storage and relatives) is many: each frame's position, orientation, pixel spacing,
rescale and window come from its Per-frame Functional Groups, else from the Shared
Functional Groups. Every later step (grouping, ordering, decoding) works on
:class:`Frame` records and never needs to know which kind of file a frame came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Attributes that tell volumes of one series apart when they share slice positions
# (several echoes, time points, diffusion weightings or stacks).
SPLIT_ATTRIBUTES = (
    "StackID",
    "EchoNumbers",
    "EffectiveEchoTime",
    "TemporalPositionIdentifier",
    "TemporalPositionIndex",
    "DiffusionBValue",
    "AcquisitionNumber",
    "TriggerTime",
)


@dataclass
class Frame:
    """One 2D frame of a DICOM image: where it lies (LPS mm) and how to scale its values.

    ``orientation`` is the six ImageOrientationPatient cosines (row direction, then
    column direction); ``pixel_spacing`` is (row spacing, column spacing) in mm as
    PixelSpacing stores it. ``series_uid`` and ``instance_uid`` are kept in memory only,
    to group frames and to match DICOM SEG references; they are never stored.
    """

    path: Path
    frame_index: int | None
    rows: int
    columns: int
    position: np.ndarray | None
    orientation: np.ndarray | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    slope: float
    intercept: float
    windows: list[tuple[float, float]]
    instance_number: int | None
    split_values: dict[str, Any]
    header: object = field(repr=False)
    series_uid: str = field(default="", repr=False)
    instance_uid: str = field(default="", repr=False)


def frames_of(path: Path, header) -> list[Frame]:
    """Return the frames of one DICOM image file (one for a classic file)."""
    per_frame = header.get("PerFrameFunctionalGroupsSequence")
    if per_frame:
        return [_enhanced_frame(path, header, index) for index in range(len(per_frame))]

    count = int(header.get("NumberOfFrames") or 1)
    if count == 1:
        return [_classic_frame(path, header, None)]
    # A multi-frame file without functional groups: all frames share the top-level
    # attributes, and the frame order in the file is the only order there is.
    return [_classic_frame(path, header, index) for index in range(count)]


def _classic_frame(path: Path, header, frame_index: int | None) -> Frame:
    return Frame(
        path=path,
        frame_index=frame_index,
        rows=int(header.Rows),
        columns=int(header.Columns),
        position=_vector(header.get("ImagePositionPatient"), 3) if frame_index is None else None,
        orientation=_vector(header.get("ImageOrientationPatient"), 6),
        pixel_spacing=_spacing(header.get("PixelSpacing")),
        slice_thickness=_number(header.get("SliceThickness")),
        spacing_between_slices=_number(header.get("SpacingBetweenSlices")),
        slope=_number(header.get("RescaleSlope"), 1.0),
        intercept=_number(header.get("RescaleIntercept"), 0.0),
        windows=_windows(header),
        instance_number=_integer(header.get("InstanceNumber")),
        split_values={name: _hashable(header.get(name)) for name in SPLIT_ATTRIBUTES if name in header},
        header=header,
        series_uid=str(header.get("SeriesInstanceUID", "")),
        instance_uid=str(header.get("SOPInstanceUID", "")) + ("" if frame_index is None else f"#{frame_index}"),
    )


def functional_group(header, frame_index: int, keyword: str):
    """Return the first item of functional-group sequence ``keyword`` for a frame, or None.

    The per-frame group wins over the shared group, as the standard defines.
    """
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame_index),
                          ("SharedFunctionalGroupsSequence", 0)):
        sequence = header.get(groups)
        if sequence and len(sequence) > index:
            inner = sequence[index].get(keyword)
            if inner:
                return inner[0]
    return None


def _enhanced_frame(path: Path, header, index: int) -> Frame:
    position = functional_group(header, index, "PlanePositionSequence")
    orientation = functional_group(header, index, "PlaneOrientationSequence")
    measures = functional_group(header, index, "PixelMeasuresSequence")
    rescale = functional_group(header, index, "PixelValueTransformationSequence")
    window = functional_group(header, index, "FrameVOILUTSequence")
    content = functional_group(header, index, "FrameContentSequence")
    echo = functional_group(header, index, "MREchoSequence")
    diffusion = functional_group(header, index, "MRDiffusionSequence")

    split_values: dict[str, Any] = {}
    for item, names in ((content, ("StackID", "TemporalPositionIndex")),
                        (echo, ("EffectiveEchoTime",)),
                        (diffusion, ("DiffusionBValue",))):
        for name in names:
            if item is not None and name in item:
                split_values[name] = _hashable(item.get(name))

    return Frame(
        path=path,
        frame_index=index,
        rows=int(header.Rows),
        columns=int(header.Columns),
        position=_vector(position.get("ImagePositionPatient") if position else None, 3),
        orientation=_vector(orientation.get("ImageOrientationPatient") if orientation else None, 6),
        pixel_spacing=_spacing(measures.get("PixelSpacing") if measures else None),
        slice_thickness=_number(measures.get("SliceThickness") if measures else None),
        spacing_between_slices=_number(
            (measures.get("SpacingBetweenSlices") if measures else None) or header.get("SpacingBetweenSlices")
        ),
        slope=_number(rescale.get("RescaleSlope") if rescale else header.get("RescaleSlope"), 1.0),
        intercept=_number(rescale.get("RescaleIntercept") if rescale else header.get("RescaleIntercept"), 0.0),
        windows=_windows(window) if window is not None else _windows(header),
        instance_number=_integer(content.get("InStackPositionNumber")) if content else None,
        split_values=split_values,
        header=header,
        series_uid=str(header.get("SeriesInstanceUID", "")),
        instance_uid=f"{header.get('SOPInstanceUID', '')}#{index}",
    )


def _vector(value, length: int) -> np.ndarray | None:
    if value is None:
        return None
    try:
        numbers = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        return None
    if numbers.shape != (length,) or not np.all(np.isfinite(numbers)):
        return None
    return numbers


def _spacing(value) -> tuple[float, float] | None:
    numbers = _vector(value, 2)
    if numbers is None or np.any(numbers <= 0):
        return None
    return float(numbers[0]), float(numbers[1])


def _number(value, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def _integer(value) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _hashable(value) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return tuple(str(v) for v in value)
    return str(value)


def _windows(item) -> list[tuple[float, float]]:
    """Return (center, width) pairs; WindowCenter and WindowWidth may each hold several values."""
    centers, widths = item.get("WindowCenter"), item.get("WindowWidth")
    if centers is None or widths is None:
        return []
    centers = list(centers) if not isinstance(centers, (int, float, str)) else [centers]
    widths = list(widths) if not isinstance(widths, (int, float, str)) else [widths]
    pairs = []
    for center, width in zip(centers, widths):
        center, width = _number(center), _number(width)
        if center is not None and width is not None and width > 0:
            pairs.append((center, width))
    return pairs
