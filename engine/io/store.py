"""Writing loaded images into the database: the one place that turns a Volume into rows.

:func:`add_series` writes one volume; :func:`write_cases` writes a whole import in bulk
(multi-row INSERTs, one query per table and chunk) and skips what is already there, so
importing the same content twice adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from db.models import Case, Dataset, Mask, Series, Slice, utcnow
from engine.errors import InvalidInputError

# Cases per bulk write; also the size of the IN (...) lists of the lookups.
WRITE_CHUNK = 500


def get_or_create_dataset(session: Session, name: str, kind: str, data_root: str | None = None,
                          description: str | None = None) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        dataset = Dataset(name=name, kind=kind, data_root=data_root, description=description)
        session.add(dataset)
        session.flush()
    return dataset


def dataset_for_import(session: Session, name: str, kind: str,
                       data_root: str | None) -> tuple[Dataset, bool]:
    """Return the dataset ``name`` (created if new) and whether it was created.

    A dataset has one data root. Images from another root are rejected, because their
    ``image_path`` values would be relative to a different folder.
    """
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        return get_or_create_dataset(session, name, kind, data_root), True
    if data_root is not None:
        if dataset.data_root is None:
            dataset.data_root = data_root
        elif Path(dataset.data_root) != Path(data_root):
            raise InvalidInputError(
                f"dataset '{name}' has data root '{dataset.data_root}', but these images are "
                f"under '{data_root}'; import them into another dataset with --dataset"
            )
    return dataset, False


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


def series_values(volume, modality: str | None = None) -> dict[str, Any]:
    """Return the Series column values (all but ``case_id``) of a loaded Volume."""
    return dict(
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


def add_series(session: Session, case: Case, volume, modality: str | None = None,
               image_path: str | None = None) -> Series:
    """Add ``volume`` (an :class:`engine.io.volume.Volume`) to ``case`` with one Slice row per slice.

    ``image_path`` is the data-root-relative path of a 2D image, stored on its slice.
    """
    series = Series(case_id=case.id, **series_values(volume, modality))
    session.add(series)
    session.flush()
    session.add_all(
        Slice(series_id=series.id, index=index, image_path=image_path)
        for index in range(volume.slice_count)
    )
    session.flush()
    return series


# --------------------------------------------------------------------------- bulk import


@dataclass
class SeriesRecord:
    """Column values and slice count of a loaded series, ready to write."""

    values: dict[str, Any]  # Series columns except case_id (see series_values)
    slice_count: int
    image_path: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.values["content_sha256"], self.values["volume_index"]


@dataclass
class MaskRecord:
    """A loaded mask: Mask column values and the series of its case it lies on."""

    values: dict[str, Any]  # Mask columns except case_id and reference_series_id
    series: list[int]  # indexes into CaseRecord.series; the first is the reference series
    slices: list[int]  # slice indexes where the mask has foreground, on each of those series


@dataclass
class CaseRecord:
    pseudonym: str
    tumour_type: str | None = None
    source: str | None = None
    series: list[SeriesRecord] = field(default_factory=list)
    masks: list[MaskRecord] = field(default_factory=list)

    def masked_slices(self) -> dict[int, set[int]]:
        """Return, per series index, the slice indexes where any mask has foreground."""
        masked: dict[int, set[int]] = {}
        for mask in self.masks:
            for index in mask.series:
                masked.setdefault(index, set()).update(mask.slices)
        return masked


@dataclass
class WriteCounts:
    """Rows added and rows found already present, per table."""

    added: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TABLES, 0))
    present: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TABLES, 0))


_TABLES = ("cases", "series", "slices", "masks")


def write_cases(session: Session, dataset: Dataset, cases: Sequence[CaseRecord]) -> WriteCounts:
    """Write ``cases`` into ``dataset``, skipping cases, series and masks already present.

    A case is matched by pseudonym, a series by (case, content sha256, volume index), a
    mask by (case, content sha256). ``has_mask`` is set on the slices where a mask has
    foreground (a nonzero label), as for DICOM SEG masks.
    """
    counts = WriteCounts()
    for start in range(0, len(cases), WRITE_CHUNK):
        chunk = cases[start:start + WRITE_CHUNK]
        case_ids = _write_case_rows(session, dataset.id, chunk, counts)
        series_ids = _write_series_rows(session, chunk, case_ids, counts)
        _write_mask_rows(session, chunk, case_ids, series_ids, counts)
    return counts


def _write_case_rows(session: Session, dataset_id: int, chunk: Sequence[CaseRecord],
                     counts: WriteCounts) -> list[int]:
    names = [case.pseudonym for case in chunk]
    ids: dict[str, int] = dict(session.execute(
        select(Case.pseudonym, Case.id).where(Case.dataset_id == dataset_id, Case.pseudonym.in_(names))
    ).all())
    counts.present["cases"] += len(ids)
    new = [case for case in chunk if case.pseudonym not in ids]
    if new:
        now = utcnow()
        rows = [dict(dataset_id=dataset_id, pseudonym=case.pseudonym, tumour_type=case.tumour_type,
                     source=case.source, created_at=now) for case in new]
        new_ids = _insert_returning_ids(session, Case, rows)
        ids.update(zip((case.pseudonym for case in new), new_ids))
        counts.added["cases"] += len(new)
    return [ids[name] for name in names]


def _write_series_rows(session: Session, chunk: Sequence[CaseRecord], case_ids: list[int],
                       counts: WriteCounts) -> list[list[int]]:
    existing = {
        (case_id, sha, volume_index): series_id
        for case_id, sha, volume_index, series_id in session.execute(
            select(Series.case_id, Series.content_sha256, Series.volume_index, Series.id)
            .where(Series.case_id.in_(case_ids))
        )
    }
    new_rows, new_records, slots = [], [], []
    result: list[list[int]] = []
    now = utcnow()
    for case, case_id in zip(chunk, case_ids):
        masked = case.masked_slices()
        ids = []
        for position, record in enumerate(case.series):
            series_id = existing.get((case_id, *record.key))
            if series_id is None:
                new_rows.append(dict(record.values, case_id=case_id, created_at=now))
                new_records.append((record, masked.get(position, set())))
                slots.append((len(result), len(ids)))
            else:
                counts.present["series"] += 1
                counts.present["slices"] += record.slice_count
            ids.append(series_id)
        result.append(ids)

    if new_rows:
        new_ids = _insert_returning_ids(session, Series, new_rows)
        for (case_slot, series_slot), series_id in zip(slots, new_ids):
            result[case_slot][series_slot] = series_id
        _insert_slices(session, new_records, new_ids)
        counts.added["series"] += len(new_rows)
        counts.added["slices"] += sum(record.slice_count for record, _ in new_records)
    return result


def _insert_slices(session: Session, records: list[tuple[SeriesRecord, set[int]]],
                   series_ids: list[int]) -> None:
    rows = [
        dict(series_id=series_id, index=index, image_path=record.image_path,
             has_mask=index in masked)
        for (record, masked), series_id in zip(records, series_ids)
        for index in range(record.slice_count)
    ]
    if rows:
        session.execute(insert(Slice), rows)


def _write_mask_rows(session: Session, chunk: Sequence[CaseRecord], case_ids: list[int],
                     series_ids: list[list[int]], counts: WriteCounts) -> None:
    existing = {
        (case_id, sha) for case_id, sha in session.execute(
            select(Mask.case_id, Mask.content_sha256).where(Mask.case_id.in_(case_ids))
        )
    }
    rows = []
    masked: dict[tuple[int, ...], set[int]] = {}  # slice indexes -> series ids
    now = utcnow()
    for case, case_id, ids in zip(chunk, case_ids, series_ids):
        for mask in case.masks:
            if mask.slices:
                masked.setdefault(tuple(sorted(mask.slices)), set()).update(
                    ids[index] for index in mask.series)
            if (case_id, mask.values["content_sha256"]) in existing:
                counts.present["masks"] += 1
                continue
            existing.add((case_id, mask.values["content_sha256"]))
            rows.append(dict(mask.values, case_id=case_id,
                             reference_series_id=ids[mask.series[0]], created_at=now))
    if rows:
        session.execute(insert(Mask), rows)
        counts.added["masks"] += len(rows)
    for slice_indexes, series in masked.items():
        _mark_has_mask(session, series, slice_indexes)


def _mark_has_mask(session: Session, series_ids: Iterable[int], slice_indexes: Sequence[int]) -> None:
    """Set ``has_mask`` on slices ``slice_indexes`` of ``series_ids`` that do not have it yet.

    Series written in this import already have it; this catches series imported before
    their mask.
    """
    ids = sorted(series_ids)
    for start in range(0, len(ids), WRITE_CHUNK):
        for first in range(0, len(slice_indexes), WRITE_CHUNK):
            session.execute(
                update(Slice)
                .where(Slice.series_id.in_(ids[start:start + WRITE_CHUNK]),
                       Slice.index.in_(slice_indexes[first:first + WRITE_CHUNK]),
                       Slice.has_mask.is_(False))
                .values(has_mask=True)
                .execution_options(synchronize_session=False)
            )


def _insert_returning_ids(session: Session, model, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in bulk and return their new ids in the order of ``rows``."""
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))
