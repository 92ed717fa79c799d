"""The silver labels of one slice, with a reviewer's current verdict on each field.

The viewer's silver-label panel shows them. A review of a field is a ``Review`` row with
target ``silver_label`` and the field name. Its verdict is "agree" (the stored value is
right, also when it is empty) or "disagree" with the reviewer's value in
``corrected_label`` (empty when the field should be empty), as
:mod:`engine.pipeline.quality` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import PipelineRun, Review, SilverLabel
from engine.pipeline.labels import STAGES
from engine.pipeline.vocabulary import (FIELDS, LESION_FOUND, LOCATION, LOCATIONS, MODALITIES,
                                        MODALITY, STORED_SIGN_VALUES)


@dataclass(frozen=True)
class FieldVerdict:
    """A reviewer's current verdict on one field."""

    verdict: str
    corrected_label: str | None
    review_id: int


@dataclass(frozen=True)
class SliceLabel:
    """One stored silver label of a slice and the reviewer's verdicts by field."""

    label_id: int
    pipeline_run: str
    stage: str
    status: str
    model_name: str | None
    fields: dict[str, Any]
    verdicts: dict[str, FieldVerdict]


def field_text(value: Any) -> str:
    """Return a field value as the review stores it: ``str(value)``, "" for None."""
    return "" if value is None else str(value)


def field_choices(field: str) -> tuple[str, ...]:
    """Return the values a reviewer may give ``field``, in the stored spelling."""
    if field == LESION_FOUND:
        return (field_text(True), field_text(False))
    if field == MODALITY:
        return MODALITIES
    if field == LOCATION:
        return LOCATIONS
    return STORED_SIGN_VALUES[field]


def slice_labels(session: Session, slice_id: int, reviewer: str | None) -> list[SliceLabel]:
    """Return the slice's silver labels by pipeline run name, then stage in pipeline order.

    ``verdicts`` contains ``reviewer``'s newest review of each field (withdrawn ones are
    left out). It is empty without a reviewer.
    """
    rows = session.execute(
        select(SilverLabel, PipelineRun.name)
        .join(PipelineRun, PipelineRun.id == SilverLabel.pipeline_run_id)
        .where(SilverLabel.slice_id == slice_id)).all()
    verdicts: dict[int, dict[str, FieldVerdict]] = {}
    if reviewer and rows:
        newest = (select(func.max(Review.id))
                  .where(Review.target == "silver_label", Review.reviewer == reviewer,
                         Review.silver_label_id.in_([label.id for label, _ in rows]))
                  .group_by(Review.silver_label_id, Review.field))
        for review in session.scalars(select(Review).where(Review.id.in_(newest))):
            if review.verdict == "withdrawn":
                continue
            verdicts.setdefault(review.silver_label_id, {})[review.field] = FieldVerdict(
                review.verdict, review.corrected_label, review.id)
    labels = [SliceLabel(label.id, run_name, label.stage, label.status, label.model_name,
                         {field: (label.fields or {}).get(field) for field in FIELDS},
                         verdicts.get(label.id, {}))
              for label, run_name in rows]
    order = {stage: index for index, stage in enumerate(STAGES)}
    return sorted(labels, key=lambda label: (label.pipeline_run,
                                             order.get(label.stage, len(order))))
