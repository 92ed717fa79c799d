"""The samples of a pipeline run: which slices of a dataset enter it, with their facts.

Every 2D image is a sample. A volume contributes slices by the run's selection:

- ``largest`` (default): the axial slice with the largest whole-lesion area, or the middle
  slice when the volume has no lesion (no mask, or an empty one);
- ``lesion``: every ``slice_step``-th slice with lesion, or the middle slice without one.

A sample's facts come from its case (tumour type, source), its series (modality, geometry)
and the mask semantics of the whole lesion on the slice (region "whole" of binary masks or
"WT" of BraTS label maps; with several masks, the one with the largest area).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Case, Dataset, Semantics, Series, Slice
from engine.errors import InvalidInputError, NotFoundError
from engine.io.volume import slice_frame
from engine.pipeline.vocabulary import FLAIR, T1, T1CE, T2

WHOLE_LESION_REGIONS = ("whole", "WT")
SELECTIONS = ("largest", "lesion")
HEALTHY_TYPES = frozenset({"notumor", "no tumor", "no_tumor", "healthy", "normal", "control"})
UNKNOWN_TYPES = frozenset({"", "unknown", "none", "null", "nan", "undefined"})
UNKNOWN_SOURCE = "00"


@dataclass(frozen=True)
class MaskFacts:
    """Mask semantics of the whole lesion on one slice (display frame, pixels)."""

    mask_id: int
    region: str
    size: str
    shape: str
    spread: str
    location: str
    area_px: int
    area_ratio: float
    circularity: float
    elongation: float
    components: int
    dominant_fraction: float
    centroid_x: float
    centroid_y: float


@dataclass(frozen=True)
class Sample:
    """One slice of a pipeline run and the facts that generation may use.

    ``modality`` is T1, T1CE, T2 or FLAIR, or None when the series' modality is unknown.
    ``tumour_class`` is the normalised class name ("glioma", "healthy", "tumor" for an
    untyped tumour, "unknown" without a type). ``width`` and ``height`` are the displayed
    slice size in pixels. ``window`` is the series' (1st, 99th) intensity percentiles, the
    display window of rendered volume slices. ``sample_id`` is the slice's image path in
    exports.
    """

    slice_id: int
    slice_index: int
    series_id: int
    case_id: int
    case: str
    tumour_type: str | None
    tumour_class: str
    source: str
    modality: str | None
    series_kind: str
    file_format: str
    source_path: str
    volume_index: int
    content_sha256: str
    affine: tuple[tuple[float, ...], ...] | None
    slice_axis: int
    window: tuple[float, float] | None
    image_path: str | None
    has_mask: bool
    width: int
    height: int
    mask: MaskFacts | None
    sample_id: str

    @property
    def is_healthy(self) -> bool:
        return self.tumour_class == "healthy"


def tumour_class(tumour_type: str | None) -> str:
    """Return the class folder name of a tumour type: lower case, spaces as underscores."""
    text = (tumour_type or "").strip().lower()
    if text in UNKNOWN_TYPES:
        return "unknown"
    if text in HEALTHY_TYPES:
        return "healthy"
    if text == "brain tumor":
        return "tumor"
    return re.sub(r"[\s\-]+", "_", text)


def canonical_series_modality(modality: str | None) -> str | None:
    return modality if modality in (T1, T1CE, T2, FLAIR) else None


def load_samples(session: Session, dataset_name: str, selection: str = "largest",
                 slice_step: int = 1) -> list[Sample]:
    """Return the samples of dataset ``dataset_name``, sorted by sample id.

    Raises NotFoundError for an unknown dataset, InvalidInputError for an unknown selection
    or step, and InvalidInputError when two samples would share an image path.
    """
    if selection not in SELECTIONS:
        raise InvalidInputError(f"slice selection {selection!r} is unknown; use "
                                f"{' or '.join(SELECTIONS)}")
    if slice_step < 1:
        raise InvalidInputError(f"slice step {slice_step} must be 1 or more")
    dataset = session.scalar(select(Dataset).where(Dataset.name == dataset_name))
    if dataset is None:
        raise NotFoundError(f"dataset '{dataset_name}' not found; list datasets with "
                            "'neuroonco datasets list' or import one first")

    series_rows = session.execute(
        select(Series, Case).join(Case, Case.id == Series.case_id)
        .where(Case.dataset_id == dataset.id).order_by(Series.id)
    ).all()
    lesions = _lesion_semantics(session, dataset.id)
    slices = _slices(session, dataset.id)

    samples = []
    for series, case in series_rows:
        for index in _selected_indices(series, lesions.get(series.id, {}), selection,
                                       slice_step):
            row = slices.get((series.id, index))
            if row is None:
                continue
            samples.append(_sample(series, case, row, lesions.get(series.id, {}).get(index)))
    _check_unique(samples)
    return sorted(samples, key=lambda sample: sample.sample_id)


def _lesion_semantics(session: Session, dataset_id: int) -> dict[int, dict[int, MaskFacts]]:
    """Return {series id: {slice index: facts of the largest whole-lesion region}}."""
    rows = session.execute(
        select(Slice.series_id, Slice.index, Semantics)
        .join(Semantics, Semantics.slice_id == Slice.id)
        .join(Series, Series.id == Slice.series_id)
        .join(Case, Case.id == Series.case_id)
        .where(Case.dataset_id == dataset_id, Semantics.region.in_(WHOLE_LESION_REGIONS),
               Semantics.is_empty.is_(False), Semantics.size.is_not(None))
    ).all()
    result: dict[int, dict[int, MaskFacts]] = defaultdict(dict)
    for series_id, index, row in rows:
        current = result[series_id].get(index)
        if current is None or row.area_px > current.area_px:
            result[series_id][index] = MaskFacts(
                mask_id=row.mask_id, region=row.region, size=row.size, shape=row.shape,
                spread=row.spread, location=row.location, area_px=int(row.area_px),
                area_ratio=float(row.area_ratio or 0.0), circularity=float(row.circularity or 0.0),
                elongation=float(row.elongation or 1.0), components=int(row.components),
                dominant_fraction=float(row.dominant_fraction or 1.0),
                centroid_x=float(row.centroid_x or 0.0), centroid_y=float(row.centroid_y or 0.0))
    return result


def _slices(session: Session, dataset_id: int) -> dict[tuple[int, int], Any]:
    rows = session.execute(
        select(Slice.id, Slice.series_id, Slice.index, Slice.image_path, Slice.has_mask)
        .join(Series, Series.id == Slice.series_id)
        .join(Case, Case.id == Series.case_id)
        .where(Case.dataset_id == dataset_id)
    ).all()
    return {(row.series_id, row.index): row for row in rows}


def _selected_indices(series: Series, lesions: dict[int, MaskFacts], selection: str,
                      slice_step: int) -> list[int]:
    if series.kind != "volume":
        return [0]
    if not lesions:
        return [int(series.shape[series.slice_axis]) // 2]
    if selection == "largest":
        return [min(lesions, key=lambda index: (-lesions[index].area_px, index))]
    return sorted(lesions)[::slice_step]


def _sample(series: Series, case: Case, row: Any, mask: MaskFacts | None) -> Sample:
    height, width = _display_size(series)
    modality = canonical_series_modality(series.modality)
    source = case.source if case.source and re.fullmatch(r"\d{1,2}", case.source) else None
    sample = Sample(
        slice_id=row.id, slice_index=row.index, series_id=series.id, case_id=case.id,
        case=case.pseudonym, tumour_type=case.tumour_type,
        tumour_class=tumour_class(case.tumour_type),
        source=source.zfill(2) if source else UNKNOWN_SOURCE, modality=modality,
        series_kind=series.kind, file_format=series.file_format,
        source_path=series.source_path, volume_index=series.volume_index,
        content_sha256=series.content_sha256,
        affine=_affine(series.affine),
        slice_axis=series.slice_axis, window=_window(series.intensity),
        image_path=row.image_path, has_mask=bool(row.has_mask or mask is not None),
        width=width, height=height, mask=mask, sample_id="",
    )
    return replace(sample, sample_id=export_image_path(sample))


def _affine(affine: list | None) -> tuple[tuple[float, ...], ...] | None:
    return tuple(tuple(float(v) for v in row) for row in affine) if affine else None


def _window(intensity: dict | None) -> tuple[float, float] | None:
    """Return the (1st, 99th) intensity percentiles of a series, or None when not stored."""
    if not intensity or "p1" not in intensity or "p99" not in intensity:
        return None
    return float(intensity["p1"]), float(intensity["p99"])


def _display_size(series: Series) -> tuple[int, int]:
    shape = [int(n) for n in series.shape]
    if series.kind != "volume":
        return shape[0], shape[1]
    frame = slice_frame(np.asarray(series.affine, dtype=float), series.slice_axis)
    rows, columns = frame.display_shape(tuple(shape[:3]))
    return rows, columns


def export_image_path(sample: Sample) -> str:
    """Return the sample's image path in the MM-NeuroOnco layout of exports.

    A 2D image keeps its own ``image_path``. A volume slice (or a 2D image without one) is
    ``<class>/<NN>_<modality>[_mask]/<case>_<slice>.png``: NN is the case's numeric source
    id ("00" when it has none), the modality is lower case ("unknown" when not known), and
    ``_mask`` marks series whose case has a mask.
    """
    if sample.series_kind != "volume" and sample.image_path:
        return sample.image_path
    modality = (sample.modality or "unknown").lower()
    folder = f"{sample.source}_{modality}{'_mask' if sample.has_mask else ''}"
    case = re.sub(r"[^A-Za-z0-9._-]+", "_", sample.case).strip("._") or "case"
    if sample.series_kind == "volume":
        name = f"{case}_{sample.slice_index}.png"
    else:
        name = f"{case}_{PurePosixPath(sample.source_path).name}"
    return f"{sample.tumour_class}/{folder}/{name}"


def _check_unique(samples: list[Sample]) -> None:
    seen: dict[str, int] = {}
    for sample in samples:
        if sample.sample_id in seen:
            raise InvalidInputError(
                f"slices {seen[sample.sample_id]} and {sample.slice_id} would both be exported "
                f"as '{sample.sample_id}'; give the cases distinct pseudonyms or image paths")
        seen[sample.sample_id] = sample.slice_id
