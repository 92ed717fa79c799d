"""The semantics panel's data: a slice's mask-derived labels, measurements and description."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Mask, MaskRegionSummary, Semantics, Series, Slice

# Regions in the order the panel lists them: binary masks, then BraTS whole tumour, tumour
# core and enhancing tumour.
REGION_ORDER = ("whole", "WT", "TC", "ET")
LABEL_FIELDS = ("size", "shape", "spread", "location")


@dataclass(frozen=True)
class RegionSemantics:
    """The semantics of one mask region on one slice (the MM-NeuroOnco rules).

    ``area_ratio`` is the lesion's share of the slice area, ``centroid`` its (x, y) pixel
    position in the displayed (radiological) frame. Labels are None for an empty region.
    """

    region: str
    mask_id: int
    is_empty: bool
    size: str | None
    shape: str | None
    spread: str | None
    location: str | None
    area_px: int
    area_ratio: float | None
    circularity: float | None
    elongation: float | None
    components: int
    dominant_fraction: float | None
    centroid: tuple[float, float] | None
    rules_version: str

    def label(self, field: str) -> str | None:
        return getattr(self, field)


@dataclass(frozen=True)
class VolumeSummary:
    """One region of a 3D label map over the whole volume: voxels, millilitres, slices."""

    region: str
    voxel_count: int
    volume_ml: float
    slices_with_lesion: int
    largest_slice_index: int | None
    largest_slice_area_px: int


@dataclass(frozen=True)
class SliceSemantics:
    """Everything the semantics panel shows for one slice."""

    slice_id: int
    slice_index: int
    description: str | None
    has_mask: bool
    regions: tuple[RegionSemantics, ...]
    volume: tuple[VolumeSummary, ...]


def _region_rank(region: str) -> int:
    return REGION_ORDER.index(region) if region in REGION_ORDER else len(REGION_ORDER)


def slice_semantics(session: Session, slice_id: int) -> SliceSemantics | None:
    """Return the semantics of slice ``slice_id``, or None when the slice is gone."""
    slice_row = session.get(Slice, slice_id)
    if slice_row is None:
        return None
    rows = sorted(session.scalars(select(Semantics).where(Semantics.slice_id == slice_id)),
                  key=lambda row: (row.mask_id, _region_rank(row.region)))
    regions = tuple(
        RegionSemantics(
            region=row.region, mask_id=row.mask_id, is_empty=row.is_empty, size=row.size,
            shape=row.shape, spread=row.spread, location=row.location, area_px=row.area_px,
            area_ratio=row.area_ratio, circularity=row.circularity, elongation=row.elongation,
            components=row.components, dominant_fraction=row.dominant_fraction,
            centroid=(row.centroid_x, row.centroid_y) if row.centroid_x is not None else None,
            rules_version=row.rules_version,
        )
        for row in rows
    )
    case_id = session.scalar(select(Series.case_id).where(Series.id == slice_row.series_id))
    summaries = session.scalars(
        select(MaskRegionSummary).join(Mask, Mask.id == MaskRegionSummary.mask_id)
        .where(Mask.case_id == case_id)
    )
    volume = tuple(sorted(
        (VolumeSummary(row.region, row.voxel_count, row.volume_ml, row.slices_with_lesion,
                       row.largest_slice_index, row.largest_slice_area_px) for row in summaries),
        key=lambda summary: _region_rank(summary.region),
    ))
    return SliceSemantics(slice_id, slice_row.index, slice_row.coarse_description, slice_row.has_mask,
                          regions, volume)


def largest_lesion_slice_id(session: Session, series_id: int) -> int | None:
    """Return the slice of series ``series_id`` where the whole tumour (WT) is largest, or None.

    The slice is the volume summary's ``largest_slice_index`` of a label map that lies on the
    series' grid (the mask's semantics were stored for that slice of this series). With
    several such label maps, the one with the largest lesion area on its largest slice wins.
    None when the case has no 3D label map on this grid or its lesion is empty.
    """
    row = session.execute(
        select(Slice.id)
        .join(Series, Series.id == Slice.series_id)
        .join(Mask, Mask.case_id == Series.case_id)
        .join(MaskRegionSummary, (MaskRegionSummary.mask_id == Mask.id)
              & (MaskRegionSummary.largest_slice_index == Slice.index))
        .join(Semantics, (Semantics.slice_id == Slice.id) & (Semantics.mask_id == Mask.id)
              & (Semantics.region == MaskRegionSummary.region))
        .where(Slice.series_id == series_id, MaskRegionSummary.region == "WT")
        .order_by(MaskRegionSummary.largest_slice_area_px.desc(), Mask.id)
        .limit(1)
    ).first()
    return row[0] if row is not None else None
