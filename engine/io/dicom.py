"""Reading DICOM image series (classic and enhanced multi-frame MR) into volumes.

:func:`read_dicom_folder` finds every DICOM file below a path and groups image frames into
series by SeriesInstanceUID and orientation. It splits series whose frames repeat
positions (echoes, time points, stacks), orders slices along the slice normal, and decodes
and rescales the pixels. It returns one :class:`DicomSeries` per volume, plus the DICOM
SEG files it found. Only pseudonyms and allow-listed technical attributes leave this module; the UIDs
kept on the result are for matching segmentations in memory and are never stored.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InvalidInputError
from engine.io import deid
from engine.io.dicom_files import DicomFile, find_dicom_files
from engine.io.dicom_frames import Frame, frames_of
from engine.io.dicom_geometry import group_frames, lps_to_ras, split_volumes, stack_geometry
from engine.io.dicom_modality import description_texts, guess_modality
from engine.io.dicom_pixels import check_greyscale, decode_frames, invert_monochrome1, stored_dtype
from engine.io.volume import Volume, sha256_files
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)


@dataclass
class DicomSeries:
    """One volume read from DICOM.

    ``volume.data`` is float32 ``(I, J, K)``: column, row, slice. ``metadata`` holds only
    allow-listed technical attributes. ``slice_positions`` are the LPS positions (mm) of
    the slices in volume order, when the files give them. ``series_uid`` and
    ``instance_uids`` (one per slice) exist in memory for DICOM SEG matching and must
    never be stored, logged or shown.
    """

    volume: Volume
    pseudonym: str
    modality: str
    metadata: dict
    warnings: list[str]
    files: list[Path]
    slice_positions: np.ndarray | None = field(default=None, repr=False)
    series_uid: str = field(default="", repr=False)
    instance_uids: list[str] = field(default_factory=list, repr=False)


@dataclass
class DicomFolder:
    """Everything found below one path: image series and DICOM SEG files (headers read)."""

    series: list[DicomSeries]
    segmentations: list[DicomFile]


def read_dicom(path: str | Path, progress: Progress | None = None) -> list[DicomSeries]:
    """Read the DICOM image series of a file or folder (recursive); DICOM SEG files are skipped.

    Raises InvalidInputError naming the file for non-DICOM ``.dcm`` files, files without
    pixel data, missing decoders and damaged pixel data, and for a folder without DICOM
    images.
    """
    folder = read_dicom_folder(path, progress)
    if not folder.series:
        raise InvalidInputError(
            f"{path} contains only DICOM SEG files and no image series; import the images "
            "together with their segmentations"
        )
    return folder.series


def read_dicom_folder(path: str | Path, progress: Progress | None = None) -> DicomFolder:
    """Read image series and find DICOM SEG files below ``path`` (see :func:`read_dicom`)."""
    progress = progress or NullProgress()
    path = Path(path)
    files = find_dicom_files(path, progress)
    images = [file for file in files if file.kind == "image"]
    segmentations = [file for file in files if file.kind == "seg"]

    volumes: list[list[Frame]] = []
    for group in group_frames([frame for file in images for frame in frames_of(file.path, file.header)]):
        volumes.extend(split_volumes(group, path))

    progress.start(len({frame.path for frames in volumes for frame in frames}), "decoding DICOM pixels")
    series = [_read_volume(frames, path, progress) for frames in volumes]
    series = _number_split_volumes(series)
    for item in series:
        log.info("read DICOM series for %s: %s, shape %s, %d files", item.pseudonym, item.modality,
                 tuple(item.volume.data.shape), len(item.files))
        for warning in item.warnings:
            log.warning("DICOM series for %s in %s: %s", item.pseudonym, item.volume.source_path, warning)
    return DicomFolder(series, segmentations)


def _read_volume(frames: list[Frame], where: Path, progress: Progress) -> DicomSeries:
    geometry = stack_geometry(frames, where)
    ordered = geometry.frames
    first = ordered[0]
    header = first.header
    photometric = check_greyscale(first)

    stack = decode_frames(ordered, progress)
    windows = [{"center": center, "width": width} for center, width in first.windows]
    metadata = deid.technical_metadata(header)
    if len({(frame.slope, frame.intercept) for frame in ordered}) > 1:
        # One value would misdescribe the other slices.
        metadata.pop("RescaleSlope", None)
        metadata.pop("RescaleIntercept", None)
        metadata["RescaleVariesPerSlice"] = True
    warnings = list(geometry.warnings)
    if photometric == "MONOCHROME1":
        stack, windows, total = invert_monochrome1(stack, windows)
        metadata["MonochromeInverted"] = True
        metadata["MonochromeInversionSum"] = total
        if "WindowCenter" in metadata:
            center = metadata["WindowCenter"]
            metadata["WindowCenter"] = [total - c for c in center] if isinstance(center, list) else total - center
        warnings.append(
            f"MONOCHROME1 values were inverted (v' = {total:g} - v) so that higher values are brighter; "
            "header windows were mirrored the same way"
        )

    # (K, rows, columns) -> (I, J, K) = (column, row, slice).
    data = np.ascontiguousarray(stack.transpose(2, 1, 0))
    files = sorted({frame.path for frame in ordered}, key=str)
    volume = Volume(
        data=data,
        affine=lps_to_ras(geometry.affine_lps),
        source_path=_common_folder(files),
        content_sha256=sha256_files(files),
        file_format="dicom",
        has_geometry=geometry.has_geometry,
        header_windows=windows,
        nonfinite_count=int(np.count_nonzero(~np.isfinite(data))),
        original_dtype=stored_dtype(first),
    )
    modality = guess_modality(metadata, description_texts(header))
    volume.modality = modality
    return DicomSeries(
        volume=volume,
        pseudonym=_series_pseudonym(ordered, where),
        modality=modality,
        metadata=metadata,
        warnings=warnings,
        files=files,
        slice_positions=geometry.positions,
        series_uid=first.series_uid,
        instance_uids=[frame.instance_uid for frame in ordered],
    )


def _series_pseudonym(frames: list[Frame], where: Path) -> str:
    key = deid.installation_secret()
    headers = {id(frame.header): frame for frame in frames}
    pseudonyms = {deid.pseudonym(frame.header, frame.path, key) for frame in headers.values()}
    if len(pseudonyms) > 1:
        raise InvalidInputError(
            f"one DICOM series in {where} mixes images of {len(pseudonyms)} patients; "
            "separate the patients' files and import them one by one"
        )
    return pseudonyms.pop()


def _common_folder(files: list[Path]) -> Path:
    """Return the one file, or the deepest folder that contains all files, as the user's path spells it."""
    if len(files) == 1:
        return files[0]
    return Path(os.path.commonpath([str(file) for file in files]))


def _number_split_volumes(series: list[DicomSeries]) -> list[DicomSeries]:
    """Give volumes that share their files (split from one file set) distinct volume indexes."""
    by_hash: dict[str, list[DicomSeries]] = {}
    for item in series:
        by_hash.setdefault(item.volume.content_sha256, []).append(item)
    for items in by_hash.values():
        for index, item in enumerate(items):
            item.volume.volume_index = index
            item.volume.volume_count = len(items)
    return series
