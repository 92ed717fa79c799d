"""Turn DICOM image series and DICOM SEG files into the importer's row records.

DICOM goes through the same write path as every other format (``engine.io.store``): one
case per pseudonym, series keyed by content hash, and a SEG as a mask on the series it
references. UIDs are used in memory only; a series stores a keyed hash of its
SeriesInstanceUID (``source_key``) so that a SEG imported later can still find it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import numpy as np

from engine.errors import InvalidInputError
from engine.io.deid import installation_secret
from engine.io.dicom import DicomSeries, read_dicom_folder
from engine.io.dicom_files import DicomFile
from engine.io.dicom_seg import read_dicom_seg, referenced_uids
from engine.io.store import CaseRecord, MaskRecord, SeriesRecord, series_values
from engine.progress import Progress

log = logging.getLogger(__name__)

CASE_SOURCE = "dicom"


def series_key(series_uid: str, key: bytes | None = None) -> str | None:
    """Return the keyed hash stored for a SeriesInstanceUID (None without a UID)."""
    if not series_uid:
        return None
    secret = key if key is not None else installation_secret()
    return hmac.new(secret, b"series:" + series_uid.encode("utf-8"), hashlib.sha256).hexdigest()


def load_dicom_input(path: Path, progress: Progress) -> tuple[list[CaseRecord], int, list[str]]:
    """Read the DICOM files below ``path`` into case records.

    Returns the records, the number of NaN/Inf voxels and the duplicate-content notes.
    Raises InvalidInputError naming the file for bad input, including a SEG whose
    referenced series is not among the files.
    """
    folder = read_dicom_folder(path, progress)
    secret = installation_secret()
    cases: dict[str, CaseRecord] = {}
    placed: list[tuple[DicomSeries, CaseRecord, int]] = []
    nonfinite = 0
    duplicates: list[str] = []
    for item in folder.series:
        record = cases.setdefault(item.pseudonym, CaseRecord(item.pseudonym, source=CASE_SOURCE))
        values = series_values(item.volume, item.modality)
        values["acquisition"] = {"attributes": item.metadata, "warnings": item.warnings}
        values["source_key"] = series_key(item.series_uid, secret)
        existing = [index for index, series in enumerate(record.series)
                    if series.key == (values["content_sha256"], values["volume_index"])]
        if existing:
            duplicates.append(f"{item.volume.source_path}: same content as another series")
            placed.append((item, record, existing[0]))
            continue
        record.series.append(SeriesRecord(values, item.volume.slice_count))
        placed.append((item, record, len(record.series) - 1))
        nonfinite += item.volume.nonfinite_count
    for seg_file in folder.segmentations:
        _add_segmentation(seg_file, placed)
        progress.advance()
    return list(cases.values()), nonfinite, duplicates


def _base_uid(instance_uid: str) -> str:
    # Multi-frame series carry one "<uid>#<frame>" entry per slice.
    return instance_uid.split("#", 1)[0]


def _referenced(seg_file: DicomFile, placed: list[tuple[DicomSeries, CaseRecord, int]]):
    series_uids, instance_uids = referenced_uids(seg_file.header)
    matches = [
        entry for entry in placed
        if entry[0].series_uid in series_uids
        or instance_uids & {_base_uid(uid) for uid in entry[0].instance_uids}
    ]
    if not matches:
        raise InvalidInputError(
            f"DICOM SEG {seg_file.path} refers to an image series that is not among the imported "
            "files; import the SEG together with its image series (same folder or same command)"
        )
    if len(matches) > 1:
        # Several volumes split from one series (echoes, time points): prefer the one whose
        # instances the SEG's frames were derived from, when the SEG lists them.
        exact = [entry for entry in matches
                 if instance_uids & {_base_uid(uid) for uid in entry[0].instance_uids}]
        matches = exact or matches
    return matches[0]


def _add_segmentation(seg_file: DicomFile, placed: list[tuple[DicomSeries, CaseRecord, int]]) -> None:
    item, record, series_index = _referenced(seg_file, placed)
    segmentation = read_dicom_seg(seg_file.path, reference=item, header=seg_file.header)
    if segmentation.pseudonym != item.pseudonym:
        raise InvalidInputError(
            f"DICOM SEG {seg_file.path} belongs to a different patient than the series it refers to; "
            "check that the SEG and the images come from the same study"
        )
    for warning in segmentation.warnings:
        log.warning("DICOM SEG %s: %s", seg_file.path, warning)
    if any(mask.values["content_sha256"] == segmentation.content_sha256 for mask in record.masks):
        return
    slice_axis = record.series[series_index].values["slice_axis"]
    labels = segmentation.labels
    other_axes = tuple(axis for axis in range(labels.ndim) if axis != slice_axis)
    slices = np.flatnonzero(labels.any(axis=other_axes)).tolist()
    values = {
        "kind": "dicom-seg", "file_format": "dicom", "source_path": str(segmentation.source_path),
        "content_sha256": segmentation.content_sha256, "shape": [int(n) for n in labels.shape],
        "label_names": segmentation.label_names, "is_synthetic": False,
    }
    record.masks.append(MaskRecord(values, [series_index], slices))
