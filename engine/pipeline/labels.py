"""Reading and writing silver-label rows (one per pipeline run, slice and stage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import SilverLabel

RUN_A, RUN_B, FUSED, AUDITED = "run_a", "run_b", "fused", "audited"
STAGES = (RUN_A, RUN_B, FUSED, AUDITED)

# Statuses of extraction rows: "ok", "unparsed" (no JSON in the reply) or "error" (the model
# call failed, retried on resume). Fused rows: "kept", "healthy" or "dropped". Audited rows:
# "accepted", "rejected", "unparsed" or "error".
RETRIED_STATUSES = ("error",)


@dataclass(frozen=True)
class StoredLabel:
    slice_id: int
    status: str
    fields: dict[str, Any] | None
    notes: list[Any]
    model_name: str | None
    raw_output: str | None


def stored_labels(session: Session, run_id: int, stage: str) -> dict[int, StoredLabel]:
    """Return the labels of ``stage`` in run ``run_id`` by slice id."""
    rows = session.execute(
        select(SilverLabel.slice_id, SilverLabel.status, SilverLabel.fields, SilverLabel.notes,
               SilverLabel.model_name, SilverLabel.raw_output)
        .where(SilverLabel.pipeline_run_id == run_id, SilverLabel.stage == stage)
    ).all()
    return {row.slice_id: StoredLabel(row.slice_id, row.status, row.fields, list(row.notes or []),
                                      row.model_name, row.raw_output)
            for row in rows}


def write_label(session: Session, run_id: int, slice_id: int, stage: str, *, status: str,
                fields: dict[str, Any] | None, notes: list[str], model_name: str | None = None,
                template_id: str | None = None, raw_output: str | None = None) -> None:
    """Insert or replace the label of (run, slice, stage)."""
    session.execute(delete(SilverLabel).where(SilverLabel.pipeline_run_id == run_id,
                                              SilverLabel.slice_id == slice_id,
                                              SilverLabel.stage == stage))
    session.add(SilverLabel(pipeline_run_id=run_id, slice_id=slice_id, stage=stage,
                            status=status, fields=fields, notes=notes, model_name=model_name,
                            template_id=template_id, raw_output=raw_output))


def status_counts(labels: dict[int, StoredLabel]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label.status] = counts.get(label.status, 0) + 1
    return dict(sorted(counts.items()))
