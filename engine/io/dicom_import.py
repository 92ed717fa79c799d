"""Writing DICOM series and DICOM SEG masks into the database, in the caller's transaction.

Cases are keyed by pseudonym and series by content hash, so importing the same files
again adds nothing. A DICOM SEG becomes a Mask row on the series it references, which
must be part of the same import: UIDs are never stored, so a series imported earlier
cannot be found from a SEG's references.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Dataset, Mask, Series, Slice
from engine.errors import InvalidInputError
from engine.io.dicom import DicomSeries, read_dicom_folder
from engine.io.dicom_files import DicomFile
from engine.io.dicom_seg import read_dicom_seg, referenced_uids
from engine.io.store import add_series, find_series, get_or_create_case
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

CASE_SOURCE = "dicom"


def add_dicom(session: Session, dataset: Dataset, path: str | Path,
              progress: Progress | None = None) -> list[Series]:
    """Import the DICOM series and DICOM SEG files below ``path`` into ``dataset``.

    Returns the image series, new or already present. Writes nothing itself on error:
    the caller's transaction rolls back. Raises InvalidInputError naming the file for bad
    input, and for a SEG whose referenced series is not among the imported files.
    """
    progress = progress or NullProgress()
    folder = read_dicom_folder(path, progress)
    progress.start(len(folder.series) + len(folder.segmentations), "writing DICOM series")

    written: list[tuple[DicomSeries, Series]] = []
    for item in folder.series:
        written.append((item, _write_series(session, dataset, item)))
        progress.advance()
    for seg_file in folder.segmentations:
        _write_segmentation(session, seg_file, written)
        progress.advance()
    return [row for _, row in written]


def _write_series(session: Session, dataset: Dataset, item: DicomSeries) -> Series:
    case = get_or_create_case(session, dataset, item.pseudonym, source=CASE_SOURCE)
    existing = find_series(session, case, item.volume.content_sha256, item.volume.volume_index)
    if existing is not None:
        log.info("DICOM series in %s is already imported as series %d", item.volume.source_path, existing.id)
        return existing
    row = add_series(session, case, item.volume, modality=item.modality)
    log.info("imported DICOM series %d for %s (%s, %d slices)", row.id, item.pseudonym,
             item.modality, item.volume.slice_count)
    return row


def _base_uid(instance_uid: str) -> str:
    return instance_uid.split("#", 1)[0]


def _referenced_series(seg_file: DicomFile, written: list[tuple[DicomSeries, Series]]):
    series_uids, instance_uids = referenced_uids(seg_file.header)
    matches = [
        (item, row) for item, row in written
        if item.series_uid in series_uids or instance_uids & {_base_uid(uid) for uid in item.instance_uids}
    ]
    if not matches:
        raise InvalidInputError(
            f"DICOM SEG {seg_file.path} refers to an image series that is not among the imported "
            "files; import the SEG together with its image series (same folder or same command)"
        )
    if len(matches) > 1:
        # Several volumes split from one series (echoes, time points): take the one whose
        # instances the SEG's frames were derived from, when the SEG lists them.
        exact = [(item, row) for item, row in matches
                 if instance_uids & {_base_uid(uid) for uid in item.instance_uids}]
        matches = exact or matches
    return matches[0]


def _write_segmentation(session: Session, seg_file: DicomFile,
                        written: list[tuple[DicomSeries, Series]]) -> Mask:
    item, series = _referenced_series(seg_file, written)
    segmentation = read_dicom_seg(seg_file.path, reference=item, header=seg_file.header)
    if segmentation.pseudonym != item.pseudonym:
        raise InvalidInputError(
            f"DICOM SEG {seg_file.path} belongs to a different patient than the series it refers to; "
            "check that the SEG and the images come from the same study"
        )
    for warning in segmentation.warnings:
        log.warning("DICOM SEG %s: %s", seg_file.path, warning)

    existing = session.scalar(
        select(Mask).where(Mask.case_id == series.case_id, Mask.content_sha256 == segmentation.content_sha256)
    )
    if existing is not None:
        return existing
    mask = Mask(
        case_id=series.case_id,
        reference_series_id=series.id,
        kind="dicom-seg",
        file_format="dicom",
        source_path=str(segmentation.source_path),
        content_sha256=segmentation.content_sha256,
        shape=[int(n) for n in segmentation.labels.shape],
        label_names=segmentation.label_names,
    )
    session.add(mask)
    session.flush()
    _mark_slices(session, series, segmentation.labels)
    log.info("imported DICOM SEG as mask %d on series %d (%d segments)", mask.id, series.id,
             len(segmentation.label_names))
    return mask


def _mark_slices(session: Session, series: Series, labels: np.ndarray) -> None:
    """Set ``has_mask`` on the series' slices (along its slice axis) that contain a label."""
    other_axes = tuple(axis for axis in range(labels.ndim) if axis != series.slice_axis)
    indexes = np.flatnonzero(labels.any(axis=other_axes)).tolist()
    if indexes:
        session.execute(
            update(Slice).where(Slice.series_id == series.id, Slice.index.in_(indexes)).values(has_mask=True)
        )
