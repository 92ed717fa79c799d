"""Writing DICOM series and DICOM SEG masks into the database, in the caller's transaction.

Cases are keyed by pseudonym and series by content hash, so importing the same files
again adds nothing. A DICOM SEG becomes a Mask row on the series it references, which
must be part of the same import. The rows go through the importer's write path
(``engine.io.store.write_cases``), the same as every other format.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Case, Dataset, Series
from engine.io.dicom_loading import load_dicom_input
from engine.io.store import write_cases
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)


def add_dicom(session: Session, dataset: Dataset, path: str | Path,
              progress: Progress | None = None) -> list[Series]:
    """Import the DICOM series and DICOM SEG files below ``path`` into ``dataset``.

    Returns the image series, new or already present. Writes nothing itself on error:
    the caller's transaction rolls back. Raises InvalidInputError naming the file for bad
    input, and for a SEG whose referenced series is not among the imported files.
    """
    progress = progress or NullProgress()
    cases, _nonfinite, _duplicates = load_dicom_input(Path(path), progress)
    counts = write_cases(session, dataset, cases)
    for record in cases:
        for series in record.series:
            log.info("imported DICOM series for %s (%s, %d slices)", record.pseudonym,
                     series.values["modality"], series.slice_count)
        for mask in record.masks:
            log.info("imported DICOM SEG for %s (%d segments)", record.pseudonym,
                     len(mask.values["label_names"]))
    log.info("DICOM import into dataset '%s': added %s", dataset.name, dict(counts.added))
    keys = [(record.pseudonym, series.values["content_sha256"], series.values["volume_index"])
            for record in cases for series in record.series]
    rows = []
    for pseudonym, sha, volume_index in keys:
        rows.append(session.scalar(
            select(Series).join(Case, Case.id == Series.case_id).where(
                Case.dataset_id == dataset.id, Case.pseudonym == pseudonym,
                Series.content_sha256 == sha, Series.volume_index == volume_index)
        ))
    return rows
