"""Reading DICOM SEG objects (binary and fractional) into label maps.

Each segment becomes a label whose value is its SegmentNumber and whose name is its
SegmentLabel. Fractional segments count as foreground where the stored fraction is above
one half (value * 2 > MaximumFractionalValue). A label map has one label per voxel, so
where segments overlap the higher segment number is kept and the result lists the
overlap in its warnings.

With a referenced series, every frame is placed on the slice of that series at the same
position (within :data:`POSITION_TOLERANCE_FRACTION` of the smallest voxel size); frames
are never resampled. Without one, the label map uses the SEG's own frame geometry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InvalidInputError
from engine.io import deid
from engine.io.dicom_files import SEGMENTATION_STORAGE, quiet_pydicom, read_header
from engine.io.dicom_frames import functional_group
from engine.io.dicom_geometry import LPS_TO_RAS, lps_to_ras, slice_normal
from engine.io.volume import sha256_file

POSITION_TOLERANCE_FRACTION = 0.05
ORIENTATION_TOLERANCE = 1e-3


@dataclass
class DicomSegmentation:
    """A DICOM SEG as a label map: uint16 ``(I, J, K)`` (column, row, slice) with RAS affine.

    ``label_names`` maps segment numbers (as strings) to SegmentLabel. The referenced
    UIDs are kept in memory only, to find the image series, and are never stored.
    """

    labels: np.ndarray
    affine: np.ndarray
    label_names: dict[str, str]
    segmentation_type: str
    source_path: Path
    content_sha256: str
    pseudonym: str
    warnings: list[str]
    referenced_series_uids: set[str] = field(default_factory=set, repr=False)
    referenced_instance_uids: set[str] = field(default_factory=set, repr=False)


@dataclass
class _SegFrame:
    segment: int
    position: np.ndarray | None
    mask: np.ndarray  # bool (rows, columns)


def referenced_uids(header) -> tuple[set[str], set[str]]:
    """Return the SeriesInstanceUIDs and SOPInstanceUIDs a SEG header refers to (in memory only)."""
    series, instances = set(), set()
    for item in header.get("ReferencedSeriesSequence") or ():
        if item.get("SeriesInstanceUID"):
            series.add(str(item.SeriesInstanceUID))
        for instance in item.get("ReferencedInstanceSequence") or ():
            instances.add(str(instance.get("ReferencedSOPInstanceUID", "")))
    for frame in header.get("PerFrameFunctionalGroupsSequence") or ():
        for derivation in frame.get("DerivationImageSequence") or ():
            for source in derivation.get("SourceImageSequence") or ():
                instances.add(str(source.get("ReferencedSOPInstanceUID", "")))
    instances.discard("")
    return series, instances


def read_dicom_seg(path: str | Path, reference=None, header=None) -> DicomSegmentation:
    """Read a DICOM SEG file into a label map.

    ``reference`` is the :class:`engine.io.dicom.DicomSeries` the SEG belongs to, or None
    for the SEG's own geometry; ``header`` is an already read header of ``path``. Raises
    InvalidInputError naming the file when it is no SEG, its frames do not lie on the
    reference's slices or grid, or its segmentation type is unsupported.
    """
    path = Path(path)
    header = header if header is not None else read_header(path)
    if str(header.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise InvalidInputError(f"{path} is not a DICOM SEG (Segmentation Storage) file")

    seg_type = str(header.get("SegmentationType", "")).upper()
    names = {}
    for item in header.get("SegmentSequence") or ():
        number = int(item.SegmentNumber)
        names[str(number)] = str(item.get("SegmentLabel", "") or f"segment {number}")
    frames = _frames(path, header, seg_type)
    orientation, spacing = _plane(path, header)

    if reference is not None:
        labels, affine, warnings = _on_reference(path, frames, orientation, spacing, header, reference)
    else:
        labels, affine, warnings = _on_own_grid(path, frames, orientation, spacing, header)

    series_uids, instance_uids = referenced_uids(header)
    return DicomSegmentation(
        labels=labels,
        affine=affine,
        label_names=names,
        segmentation_type=seg_type,
        source_path=path,
        content_sha256=sha256_file(path),
        pseudonym=deid.pseudonym(header, path),
        warnings=warnings,
        referenced_series_uids=series_uids,
        referenced_instance_uids=instance_uids,
    )


def _frames(path: Path, header, seg_type: str) -> list[_SegFrame]:
    if seg_type not in ("BINARY", "FRACTIONAL"):
        raise InvalidInputError(
            f"DICOM SEG {path} has SegmentationType {seg_type or '(none)'}; only BINARY and "
            "FRACTIONAL segmentations can be imported"
        )
    try:
        with quiet_pydicom():
            pixels = header.pixel_array
    except (ValueError, RuntimeError, AttributeError, OSError, EOFError, NotImplementedError):
        raise InvalidInputError(
            f"pixel data of DICOM SEG {path} could not be decoded; the file is damaged, so export it again"
        ) from None
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]

    maximum = float(header.get("MaximumFractionalValue") or 255)
    frames = []
    for index, pixel_frame in enumerate(pixels):
        identification = functional_group(header, index, "SegmentIdentificationSequence")
        if identification is None:
            raise InvalidInputError(
                f"frame {index + 1} of DICOM SEG {path} names no segment; the SEG is invalid, so export it again"
            )
        plane = functional_group(header, index, "PlanePositionSequence")
        position = None
        if plane is not None and plane.get("ImagePositionPatient") is not None:
            position = np.array([float(v) for v in plane.ImagePositionPatient])
        mask = pixel_frame.astype(np.float32) * 2 > maximum if seg_type == "FRACTIONAL" else pixel_frame > 0
        frames.append(_SegFrame(int(identification.ReferencedSegmentNumber), position, mask))
    return frames


def _plane(path: Path, header) -> tuple[np.ndarray, tuple[float, float]]:
    orientation = functional_group(header, 0, "PlaneOrientationSequence")
    measures = functional_group(header, 0, "PixelMeasuresSequence")
    if orientation is None or measures is None or measures.get("PixelSpacing") is None:
        raise InvalidInputError(
            f"DICOM SEG {path} has no plane orientation or pixel spacing, so it cannot be placed in space"
        )
    cosines = np.array([float(v) for v in orientation.ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in measures.PixelSpacing)
    return cosines, (row_spacing, column_spacing)


def _paint(labels: np.ndarray, frames_at: list[tuple[int, _SegFrame]]) -> list[str]:
    """Write segment numbers into ``labels`` (higher numbers last) and describe overlaps."""
    overlaps: Counter[tuple[int, int]] = Counter()
    for k, frame in sorted(frames_at, key=lambda pair: pair[1].segment):
        plane = labels[:, :, k]
        mask = frame.mask.T
        covered = plane[mask]
        covered = covered[(covered != 0) & (covered != frame.segment)]
        for other, count in zip(*np.unique(covered, return_counts=True)):
            overlaps[(int(other), frame.segment)] += int(count)
        plane[mask] = frame.segment
    return [
        f"segments {low} and {high} overlap in {count} voxels; the label map keeps segment {high} there"
        for (low, high), count in sorted(overlaps.items())
    ]


def _on_reference(path: Path, frames: list[_SegFrame], orientation: np.ndarray,
                  spacing: tuple[float, float], header, reference):
    volume = reference.volume
    columns, rows, slices = volume.data.shape
    lps = LPS_TO_RAS @ volume.affine
    reference_spacing = np.linalg.norm(lps[:3, :3], axis=0)
    reference_orientation = np.concatenate([lps[:3, 0] / reference_spacing[0], lps[:3, 1] / reference_spacing[1]])

    if (int(header.Rows), int(header.Columns)) != (rows, columns):
        raise InvalidInputError(
            f"DICOM SEG {path} has frames of {int(header.Rows)}x{int(header.Columns)} pixels but its "
            f"series has {rows}x{columns}; segmentations are never resampled"
        )
    if np.abs(orientation - reference_orientation).max() > ORIENTATION_TOLERANCE or \
            abs(spacing[0] - reference_spacing[1]) > 1e-3 or abs(spacing[1] - reference_spacing[0]) > 1e-3:
        raise InvalidInputError(
            f"DICOM SEG {path} does not share the orientation and pixel spacing of its referenced "
            "series; segmentations are never resampled"
        )
    if reference.slice_positions is None:
        raise InvalidInputError(
            f"the series that DICOM SEG {path} refers to has no slice positions, so its frames "
            "cannot be matched to slices"
        )

    tolerance = POSITION_TOLERANCE_FRACTION * float(reference_spacing.min())
    placed = []
    for index, frame in enumerate(frames):
        if frame.position is None:
            raise InvalidInputError(
                f"frame {index + 1} of DICOM SEG {path} has no position, so it cannot be matched to a slice"
            )
        distances = np.linalg.norm(reference.slice_positions - frame.position, axis=1)
        k = int(np.argmin(distances))
        if distances[k] > tolerance:
            raise InvalidInputError(
                f"frame {index + 1} of DICOM SEG {path} lies {distances[k]:.3f} mm from the nearest "
                "slice of its referenced series; segmentations are never resampled"
            )
        placed.append((k, frame))

    labels = np.zeros((columns, rows, slices), dtype=np.uint16)
    return labels, np.array(volume.affine, dtype=float), _paint(labels, placed)


def _on_own_grid(path: Path, frames: list[_SegFrame], orientation: np.ndarray,
                 spacing: tuple[float, float], header):
    if any(frame.position is None for frame in frames):
        raise InvalidInputError(
            f"DICOM SEG {path} has frames without a position; import it together with its image series"
        )
    normal = slice_normal(orientation)
    projections = np.array([float(np.dot(frame.position, normal)) for frame in frames])
    distinct = np.unique(np.round(projections, 3))

    measures = functional_group(header, 0, "PixelMeasuresSequence")
    step = float(measures.get("SpacingBetweenSlices") or 0) if measures is not None else 0.0
    if step <= 0:
        if len(distinct) > 1:
            step = float(np.diff(distinct).min())
        else:
            step = float((measures.get("SliceThickness") if measures is not None else None) or 1.0)

    origin_frame = frames[int(np.argmin(projections))]
    origin = origin_frame.position
    indices = np.rint((projections - projections.min()) / step).astype(int)
    tolerance = POSITION_TOLERANCE_FRACTION * min(step, *spacing)
    for index, (frame, k) in enumerate(zip(frames, indices)):
        expected = origin + k * step * normal
        if np.linalg.norm(frame.position - expected) > tolerance:
            raise InvalidInputError(
                f"frame {index + 1} of DICOM SEG {path} is off the regular slice grid "
                f"({step:g} mm apart); import the SEG together with its image series"
            )

    affine_lps = np.eye(4)
    affine_lps[:3, 0] = orientation[:3] * spacing[1]
    affine_lps[:3, 1] = orientation[3:] * spacing[0]
    affine_lps[:3, 2] = normal * step
    affine_lps[:3, 3] = origin
    labels = np.zeros((int(header.Columns), int(header.Rows), int(indices.max()) + 1), dtype=np.uint16)
    warnings = _paint(labels, list(zip(indices.tolist(), frames)))
    return labels, lps_to_ras(affine_lps), warnings
