"""Compute mask semantics for the slices of a dataset and store them.

For every mask of the dataset the label map is read from its file (and checked against
the content hash recorded at import), the semantics of each slice are computed with the
published MM-NeuroOnco rules (``engine.semantics.rules``), and written as Semantics rows
on every series of the case that lies on the mask's grid (a BraTS case's four modalities
share one label map). 3D label maps also get a volume summary per region. Each slice's
coarse description is written from its case's tumour type, its series' modality and the
whole-lesion semantics.

Each mask is one transaction, so a run that stops part-way keeps the masks it finished
and a resumed run skips them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.models import Case, Mask, MaskRegionSummary, Semantics, Series, Slice
from db.session import Database
from engine.errors import InvalidInputError, NotFoundError
from engine.io import masks as mask_files
from engine.io.volume import sha256_file
from engine.progress import NullProgress, Progress
from engine.semantics.describe import coarse_description
from engine.semantics.rules import RULES_VERSION, MaskSemantics, mask_semantics
from engine.semantics.volume import region_summaries, slice_semantics

log = logging.getLogger(__name__)

WHOLE = "whole"
WHOLE_TUMOUR = "WT"
AFFINE_TOLERANCE_MM = 1e-3
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class SemanticsSummary:
    masks_done: int = 0
    masks_skipped: int = 0
    semantics_rows: int = 0
    descriptions: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


def read_mask_labels(mask: Mask, series: Series) -> np.ndarray:
    """Read ``mask`` as labels in the array order of ``series`` (the mask's reference series).

    2D masks give uint8 0/255 foreground, label maps and DICOM SEGs integer labels. Raises
    InvalidInputError when the file is missing or changed since it was imported.
    """
    path = Path(mask.source_path)
    if not path.is_file():
        raise InvalidInputError(f"mask file '{path}' is missing; restore it or re-import the dataset")
    if sha256_file(path) != mask.content_sha256:
        raise InvalidInputError(
            f"mask file '{path}' changed since it was imported; re-import it so its rows match"
        )
    if mask.kind == "dicom-seg":
        from engine.io.dicom_seg import read_dicom_seg

        return read_dicom_seg(path, reference=_grid_reference(series)).labels
    if mask.kind == mask_files.LABEL_MAP:
        return mask_files.read_mask(path, mask.kind)
    shape = tuple(mask.shape) if mask.shape else tuple(series.shape[:2])
    foreground = mask_files.read_mask(path, mask.kind, shape=shape)
    return np.where(foreground, 255, 0).astype(np.uint8)


def _grid_reference(series: Series) -> SimpleNamespace:
    """What the DICOM SEG reader needs of a series: its grid and LPS slice positions."""
    affine = np.asarray(series.affine, dtype=float)
    shape = tuple(series.shape)
    lps = LPS_TO_RAS @ affine
    positions = np.array([(lps @ np.array([0.0, 0.0, k, 1.0]))[:3] for k in range(shape[2])])
    volume = SimpleNamespace(data=SimpleNamespace(shape=shape), affine=affine)
    return SimpleNamespace(volume=volume, slice_positions=positions)


def _series_on_grid(session: Session, mask: Mask, reference: Series) -> list[Series]:
    """Return the case's series that lie on the mask's grid (same shape and affine)."""
    candidates = session.scalars(select(Series).where(Series.case_id == mask.case_id))
    matching = []
    for series in candidates:
        if list(series.shape) != list(reference.shape):
            continue
        if reference.affine is not None and series.affine is not None and not np.allclose(
                series.affine, reference.affine, atol=AFFINE_TOLERANCE_MM, rtol=0):
            continue
        matching.append(series)
    return matching


def _row(slice_id: int, mask_id: int, region: str, semantics: MaskSemantics | None) -> dict:
    if semantics is None:
        return {"slice_id": slice_id, "mask_id": mask_id, "region": region, "is_empty": True,
                "rules_version": RULES_VERSION}
    x, y = semantics.centroid
    return {
        "slice_id": slice_id, "mask_id": mask_id, "region": region, "is_empty": False,
        "size": semantics.size, "shape": semantics.shape, "spread": semantics.spread,
        "location": semantics.location, "area_px": semantics.area_px,
        "area_ratio": semantics.area_ratio, "circularity": semantics.circularity,
        "elongation": semantics.elongation, "components": semantics.components,
        "dominant_fraction": semantics.dominant_fraction, "centroid_x": x, "centroid_y": y,
        "rules_version": RULES_VERSION,
    }


def compute_mask(session: Session, mask: Mask) -> int:
    """Replace the semantics and summaries of ``mask``; return the number of Semantics rows."""
    reference = session.get(Series, mask.reference_series_id) if mask.reference_series_id else None
    if reference is None:
        raise InvalidInputError(f"mask '{mask.source_path}' has no reference series; re-import it")
    labels = read_mask_labels(mask, reference)
    session.execute(delete(Semantics).where(Semantics.mask_id == mask.id))
    session.execute(delete(MaskRegionSummary).where(MaskRegionSummary.mask_id == mask.id))

    series_list = _series_on_grid(session, mask, reference)
    slice_ids = {
        (series_id, index): slice_id for slice_id, series_id, index in session.execute(
            select(Slice.id, Slice.series_id, Slice.index)
            .where(Slice.series_id.in_([series.id for series in series_list]))
        )
    }
    rows = []
    if labels.ndim == 2:
        semantics = mask_semantics(labels)
        for series in series_list:
            rows.append(_row(slice_ids[(series.id, 0)], mask.id, WHOLE, semantics))
    else:
        affine = np.asarray(reference.affine, dtype=float)
        per_region = slice_semantics(labels, affine)
        for region, per_slice in per_region.items():
            for index, semantics in enumerate(per_slice):
                if semantics is None:
                    continue
                for series in series_list:
                    rows.append(_row(slice_ids[(series.id, index)], mask.id, region, semantics))
        for summary in region_summaries(labels, affine).values():
            session.add(MaskRegionSummary(mask_id=mask.id, **asdict(summary)))
    if rows:
        session.execute(Semantics.__table__.insert(), rows)
    return len(rows)


def describe_slices(session: Session, dataset_id: int) -> int:
    """Write the coarse description of every slice of the dataset; return how many."""
    whole = (
        select(Semantics.slice_id, Semantics.size, Semantics.shape, Semantics.spread,
               Semantics.location)
        .join(Slice, Slice.id == Semantics.slice_id)
        .join(Series, Series.id == Slice.series_id)
        .join(Case, Case.id == Series.case_id)
        .where(Case.dataset_id == dataset_id, Semantics.region.in_((WHOLE, WHOLE_TUMOUR)),
               Semantics.is_empty.is_(False))
        .order_by(Semantics.id)
    )
    labels: dict[int, dict[str, str]] = {}
    for slice_id, size, shape, spread, location in session.execute(whole):
        labels.setdefault(slice_id, {"size": size, "shape": shape, "spread": spread,
                                     "location": location})
    # Slices that some mask covers (a Semantics row of any region, empty or not).
    covered = set(session.scalars(
        select(Semantics.slice_id).join(Slice, Slice.id == Semantics.slice_id)
        .join(Series, Series.id == Slice.series_id).join(Case, Case.id == Series.case_id)
        .where(Case.dataset_id == dataset_id)
    ))
    slices = session.execute(
        select(Slice.id, Slice.series_id, Series.modality, Case.tumour_type)
        .join(Series, Series.id == Slice.series_id)
        .join(Case, Case.id == Series.case_id)
        .where(Case.dataset_id == dataset_id)
    ).all()
    masked_series = {series_id for slice_id, series_id, _, _ in slices if slice_id in covered}
    updates = []
    for slice_id, series_id, modality, tumour_type in slices:
        mask_available = slice_id in covered or series_id in masked_series
        text = coarse_description(tumour_type, modality, labels.get(slice_id), mask_available)
        updates.append({"id": slice_id, "coarse_description": text})
    if updates:
        session.execute(update(Slice), updates)
    return len(updates)


def compute_dataset(db: Database, dataset_id: int, progress: Progress | None = None,
                    recompute: bool = False) -> SemanticsSummary:
    """Compute and store the semantics of every mask of a dataset, then the descriptions.

    Masks that already have semantics of the current rules version are skipped unless
    ``recompute`` is set. Each mask commits on its own.
    """
    progress = progress or NullProgress()
    with db.session() as session:
        mask_ids = list(session.scalars(
            select(Mask.id).join(Case, Case.id == Mask.case_id)
            .where(Case.dataset_id == dataset_id).order_by(Mask.id)
        ))
        done = set(session.scalars(
            select(Semantics.mask_id).where(Semantics.mask_id.in_(mask_ids),
                                            Semantics.rules_version == RULES_VERSION).distinct()
        )) | set(session.scalars(
            select(MaskRegionSummary.mask_id).where(MaskRegionSummary.mask_id.in_(mask_ids)).distinct()
        ))
    summary = SemanticsSummary()
    progress.start(len(mask_ids) + 1, "computing mask semantics")
    for mask_id in mask_ids:
        if mask_id in done and not recompute:
            summary.masks_skipped += 1
            progress.advance()
            continue
        with db.session(write=True) as session:
            mask = session.get(Mask, mask_id)
            summary.semantics_rows += compute_mask(session, mask)
        summary.masks_done += 1
        progress.advance()
    with db.session(write=True) as session:
        summary.descriptions = describe_slices(session, dataset_id)
    progress.advance(message="coarse descriptions written")
    log.info("semantics for dataset %s: %s", dataset_id, summary.to_dict())
    return summary


def dataset_id_by_name(db: Database, name: str) -> int:
    from db.models import Dataset

    with db.session() as session:
        dataset_id = session.scalar(select(Dataset.id).where(Dataset.name == name))
    if dataset_id is None:
        raise NotFoundError(f"dataset '{name}' not found; list datasets with 'neuroonco datasets list'")
    return dataset_id
