"""Mask semantics of benchmark items, for the semantics-oracle baseline.

An item's semantics are the stored ``semantics`` rows of the slice it links to
(``benchmark_item.slice_id``). A 2D mask has one region, ``whole``; a 3D label map has WT,
TC and ET, of which the oracle uses WT (whole tumour), the region that matches a 2D lesion
mask. When a slice has several masks, a row with a lesion wins over an empty one, then
``whole`` over WT, then the lower mask id; the chosen row is named in each answer's
provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import BenchmarkItem, Semantics

# Regions that describe the whole lesion, in order of preference.
LESION_REGIONS = ("whole", "WT")
LABEL_KEYS = ("size", "shape", "spread", "location")


@dataclass(frozen=True, slots=True)
class ItemSemantics:
    """The labels of one item's slice (None when the region is empty there) and the row used."""

    labels: dict[str, str | None] | None
    provenance: dict[str, Any]


def item_semantics(session: Session, benchmark_id: int) -> dict[int, ItemSemantics]:
    """Return the semantics of every item of the benchmark whose slice has stored semantics,
    by benchmark item id."""
    rows = session.execute(
        select(BenchmarkItem.item_id, Semantics)
        .join(Semantics, Semantics.slice_id == BenchmarkItem.slice_id)
        .where(BenchmarkItem.benchmark_id == benchmark_id,
               Semantics.region.in_(LESION_REGIONS))
    ).all()
    best: dict[int, Semantics] = {}
    for item_id, row in rows:
        current = best.get(item_id)
        if current is None or _preference(row) < _preference(current):
            best[item_id] = row

    result = {}
    for item_id, row in best.items():
        provenance = {"semantics_id": row.id, "slice_id": row.slice_id, "mask_id": row.mask_id,
                      "region": row.region, "rules_version": row.rules_version,
                      "is_empty": bool(row.is_empty)}
        labels = None if row.is_empty else {key: getattr(row, key) for key in LABEL_KEYS}
        result[item_id] = ItemSemantics(labels, provenance)
    return result


def _preference(row: Semantics) -> tuple[bool, int, int]:
    return (bool(row.is_empty), LESION_REGIONS.index(row.region), row.mask_id)


def semantics_coverage(session: Session, benchmark_id: int) -> tuple[int, int]:
    """Return (items whose slice has stored lesion semantics, all items) of a benchmark."""
    total = session.scalar(select(func.count()).select_from(BenchmarkItem)
                           .where(BenchmarkItem.benchmark_id == benchmark_id))
    return len(item_semantics(session, benchmark_id)), int(total or 0)
