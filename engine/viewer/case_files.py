"""The stored series and masks of a case, and loading them back from their files for display.

A series row keeps where its file was imported from and the sha256 of its content. Loading
checks that the file still has that content, because a different file at the same path
would show the wrong patient's image under this case's answers and reviews. A file that is
gone raises :class:`ImageMissingError`, which the main window turns into a placeholder that
offers to set the data root.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Case, Dataset, Mask, Series, Slice
from engine.display.labels import DisplayLabelMap
from engine.errors import InvalidInputError, NotFoundError
from engine.io.volume import Volume

log = logging.getLogger(__name__)

# Panes show a case's modalities in this order; other modalities follow by series id.
MODALITY_ORDER = ("T1", "T1CE", "T2", "FLAIR")


class ImageMissingError(InvalidInputError):
    """The file of a stored series or mask is not at its recorded path (moved or gated data)."""

    def __init__(self, message: str, dataset_id: int | None = None) -> None:
        super().__init__(message)
        self.dataset_id = dataset_id


@dataclass(frozen=True)
class SeriesFile:
    """The series, case and dataset fields that loading a series needs.

    ``image_path`` is the data-root-relative path of a 2D image in the MM-NeuroOnco layout
    and ``data_root`` the dataset's data root. Together they find an image whose absolute
    ``source_path`` no longer exists.
    """

    series_id: int
    case_id: int
    dataset_id: int
    modality: str
    kind: str
    file_format: str
    source_path: str
    content_sha256: str
    volume_index: int
    shape: tuple[int, ...]
    affine: tuple[tuple[float, ...], ...] | None
    intensity: dict[str, Any] | None
    header_windows: tuple[dict[str, Any], ...]
    image_path: str | None
    data_root: str | None

    @property
    def title(self) -> str:
        return self.modality if self.modality not in ("unknown", "other") else Path(self.source_path).name

    def candidate_paths(self) -> list[Path]:
        """Return where the file may be: the recorded path, then the data root's copy."""
        paths = [Path(self.source_path)]
        if self.data_root and self.image_path:
            moved = Path(self.data_root) / self.image_path
            if moved != paths[0]:
                paths.append(moved)
        return paths


@dataclass(frozen=True)
class MaskFile:
    """The mask row fields that loading needs: file, kind, grid and label names."""

    mask_id: int
    case_id: int
    reference_series_id: int | None
    kind: str
    file_format: str
    source_path: str
    content_sha256: str
    shape: tuple[int, ...] | None
    label_names: dict[str, str]
    is_synthetic: bool


@dataclass(frozen=True)
class CaseFiles:
    """A case with its series (in pane order) and masks."""

    case_id: int
    dataset_id: int
    dataset: str
    pseudonym: str
    tumour_type: str | None
    series: tuple[SeriesFile, ...]
    masks: tuple[MaskFile, ...]

    def series_by_id(self, series_id: int) -> SeriesFile | None:
        return next((entry for entry in self.series if entry.series_id == series_id), None)

    def mask_for(self, series_id: int | None) -> MaskFile | None:
        """Return the mask drawn on ``series_id``, else the case's first mask, else None."""
        for mask in self.masks:
            if mask.reference_series_id == series_id:
                return mask
        return self.masks[0] if self.masks else None


def _pane_order(series: Series) -> tuple[int, int]:
    rank = MODALITY_ORDER.index(series.modality) if series.modality in MODALITY_ORDER else len(MODALITY_ORDER)
    return rank, series.id


def case_files(session: Session, case_id: int) -> CaseFiles:
    """Return the series and masks of case ``case_id``; raise NotFoundError if it is gone."""
    row = session.execute(
        select(Case, Dataset).join(Dataset, Dataset.id == Case.dataset_id).where(Case.id == case_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"case {case_id} not found; it may have been deleted, so refresh the browser")
    case, dataset = row
    # A 2D image has one slice, which carries its data-root-relative path.
    image_paths = dict(session.execute(
        select(Slice.series_id, Slice.image_path)
        .join(Series, Series.id == Slice.series_id)
        .where(Series.case_id == case_id, Slice.image_path.is_not(None))
    ).all())
    series_rows = sorted(session.scalars(select(Series).where(Series.case_id == case_id)), key=_pane_order)
    series = tuple(
        SeriesFile(
            series_id=entry.id, case_id=case.id, dataset_id=dataset.id, modality=entry.modality,
            kind=entry.kind, file_format=entry.file_format, source_path=entry.source_path,
            content_sha256=entry.content_sha256, volume_index=entry.volume_index,
            shape=tuple(entry.shape), affine=tuple(map(tuple, entry.affine)) if entry.affine else None,
            intensity=dict(entry.intensity) if entry.intensity else None,
            header_windows=tuple(entry.header_windows or ()),
            image_path=image_paths.get(entry.id), data_root=dataset.data_root,
        )
        for entry in series_rows
    )
    masks = tuple(
        MaskFile(
            mask_id=mask.id, case_id=case.id, reference_series_id=mask.reference_series_id,
            kind=mask.kind, file_format=mask.file_format, source_path=mask.source_path,
            content_sha256=mask.content_sha256, shape=tuple(mask.shape) if mask.shape else None,
            label_names=dict(mask.label_names or {}), is_synthetic=mask.is_synthetic,
        )
        for mask in session.scalars(select(Mask).where(Mask.case_id == case_id).order_by(Mask.id))
    )
    return CaseFiles(case.id, dataset.id, dataset.name, case.pseudonym, case.tumour_type, series, masks)


def _existing_path(entry: SeriesFile) -> Path:
    for path in entry.candidate_paths():
        if path.exists():
            return path
    where = " or ".join(f"'{path}'" for path in entry.candidate_paths())
    raise ImageMissingError(
        f"image file of series {entry.series_id} ({entry.title}) not found at {where}; set the "
        "data root to the folder that now holds it, or restore the file",
        dataset_id=entry.dataset_id,
    )


def _changed(path: Path) -> InvalidInputError:
    return InvalidInputError(
        f"image file '{path}' changed since it was imported (its sha256 differs); re-import it "
        "so that its answers and reviews refer to the image you see"
    )


def load_series(entry: SeriesFile) -> Volume:
    """Load the image of ``entry`` as a float32 Volume, checking its stored content hash.

    Raises ImageMissingError when the file is not found and InvalidInputError when its
    content changed or it cannot be read.
    """
    path = _existing_path(entry)
    if entry.file_format == "nifti":
        from engine.io.nifti import load_nifti

        volume = load_nifti(path, entry.volume_index)
    elif entry.file_format == "dicom":
        volume = _load_dicom(path, entry)
    else:
        from engine.io.image2d import load_image

        volume = load_image(path)
    if volume.content_sha256 != entry.content_sha256:
        raise _changed(path)
    volume.modality = entry.modality
    if not volume.header_windows and entry.header_windows:
        volume.header_windows = [dict(window) for window in entry.header_windows]
    return volume


def _load_dicom(folder: Path, entry: SeriesFile) -> Volume:
    from engine.io.dicom import read_dicom

    candidates = [series.volume for series in read_dicom(folder)]
    for volume in candidates:
        if volume.content_sha256 == entry.content_sha256 and volume.volume_index == entry.volume_index:
            return volume
    raise _changed(folder)


def load_mask(mask: MaskFile, reference: SeriesFile, image: Volume) -> DisplayLabelMap:
    """Load ``mask`` on the grid of ``reference`` (the loaded ``image``) as a display label map.

    2D binary masks and YOLO polygons become label 1 (their stored name); label maps and
    DICOM SEGs keep their values. Raises ImageMissingError when the file is gone and
    InvalidInputError when it changed since the import.
    """
    from engine.semantics.store import read_mask_labels

    path = Path(mask.source_path)
    if not path.exists():
        raise ImageMissingError(
            f"mask file '{path}' of case {mask.case_id} not found; set the data root to the folder "
            "that now holds it, or restore the file",
            dataset_id=reference.dataset_id,
        )
    # read_mask_labels reads the row attributes of a Mask and a Series, which these carry.
    labels = read_mask_labels(_MaskRow(mask), _SeriesRow(reference))
    if mask.kind not in ("label-map", "dicom-seg"):
        labels = (labels > 0).astype(np.uint8)
    names = {int(value): name for value, name in mask.label_names.items()}
    return DisplayLabelMap.from_array(
        labels, image.affine, names=names, is_synthetic=mask.is_synthetic,
        has_geometry=image.has_geometry, name=f"mask '{path.name}'",
    )


class _MaskRow:
    def __init__(self, mask: MaskFile) -> None:
        self.source_path = mask.source_path
        self.content_sha256 = mask.content_sha256
        self.kind = mask.kind
        self.shape = list(mask.shape) if mask.shape else None


class _SeriesRow:
    def __init__(self, series: SeriesFile) -> None:
        self.shape = list(series.shape)
        self.affine = [list(row) for row in series.affine] if series.affine else None


def estimated_bytes(entry: SeriesFile) -> int:
    """Return the float32 bytes the loaded series takes in memory."""
    return int(np.prod(entry.shape, dtype=np.int64)) * 4
