"""Writing loaded images into the database: the one place that turns a Volume into rows."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Case, Dataset, Series, Slice


def get_or_create_dataset(session: Session, name: str, kind: str, data_root: str | None = None,
                          description: str | None = None) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        dataset = Dataset(name=name, kind=kind, data_root=data_root, description=description)
        session.add(dataset)
        session.flush()
    return dataset


def get_or_create_case(session: Session, dataset: Dataset, pseudonym: str,
                       tumour_type: str | None = None, source: str | None = None) -> Case:
    case = session.scalar(
        select(Case).where(Case.dataset_id == dataset.id, Case.pseudonym == pseudonym)
    )
    if case is None:
        case = Case(dataset_id=dataset.id, pseudonym=pseudonym, tumour_type=tumour_type,
                    source=source)
        session.add(case)
        session.flush()
    return case


def find_series(session: Session, case: Case, content_sha256: str, volume_index: int = 0) -> Series | None:
    """Return the series of ``case`` already imported from the same content, if any."""
    return session.scalar(
        select(Series).where(
            Series.case_id == case.id,
            Series.content_sha256 == content_sha256,
            Series.volume_index == volume_index,
        )
    )


def add_series(session: Session, case: Case, volume, modality: str | None = None,
               image_path: str | None = None) -> Series:
    """Add ``volume`` (an :class:`engine.io.volume.Volume`) to ``case`` with one Slice row per slice.

    ``image_path`` is the data-root-relative path of a 2D image, stored on its slice.
    """
    series = Series(
        case_id=case.id,
        modality=modality or volume.modality,
        kind="image2d" if volume.is_2d else "volume",
        file_format=volume.file_format,
        shape=[int(n) for n in volume.data.shape],
        voxel_spacing=[round(float(v), 6) for v in volume.spacing],
        affine=np.asarray(volume.affine, dtype=float).round(6).tolist(),
        slice_axis=volume.slice_axis,
        volume_index=volume.volume_index,
        volume_count=volume.volume_count,
        source_path=str(volume.source_path),
        content_sha256=volume.content_sha256,
        dtype=volume.original_dtype,
        intensity=volume.intensity_stats(),
        header_windows=volume.header_windows or None,
    )
    session.add(series)
    session.flush()
    session.add_all(
        Slice(series_id=series.id, index=index, image_path=image_path)
        for index in range(volume.slice_count)
    )
    session.flush()
    return series
