"""The JSON export of one stage's stored results, for review outside the application.

- ``description``: ``[{sample_id, slice_id, coarse_description}]``;
- ``run_a``, ``run_b``, ``fused``, ``audited``: ``[{sample_id, slice_id, stage, status,
  model, prompt, fields, notes, raw_output}]``;
- ``instructions``: ``[{sample_id, slice_id, kind, question_type, split, messages, meta}]``;
- ``stats``: the run's stats object.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import InstructionSample, PipelineRun, SilverLabel, Slice
from db.session import Database
from engine.errors import InvalidInputError
from engine.pipeline.labels import STAGES as LABEL_STAGES
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample

CHUNK = 900  # slice ids per query, below SQLite's bound-parameter limit
DUMPS = ("description", *LABEL_STAGES, "instructions", "stats")


def dump_stage(db: Database, run: RunInfo, samples: list[Sample], stage: str) -> Any:
    """Return the JSON value of ``stage`` of ``run``; raise InvalidInputError if unknown."""
    if stage not in DUMPS:
        raise InvalidInputError(f"unknown stage {stage!r} to export; use {', '.join(DUMPS)}")
    ids = {sample.slice_id: sample.sample_id for sample in samples}
    with db.session() as session:
        if stage == "stats":
            return session.get(PipelineRun, run.id).stats or {}
        if stage == "description":
            rows = []
            slice_ids = sorted(ids)
            for start in range(0, len(slice_ids), CHUNK):
                rows += session.execute(
                    select(Slice.id, Slice.coarse_description)
                    .where(Slice.id.in_(slice_ids[start:start + CHUNK]))).all()
            return sorted(({"sample_id": ids[slice_id], "slice_id": slice_id,
                            "coarse_description": text} for slice_id, text in rows),
                          key=lambda entry: entry["sample_id"])
        if stage == "instructions":
            rows = session.scalars(select(InstructionSample)
                                   .where(InstructionSample.pipeline_run_id == run.id)
                                   .order_by(InstructionSample.id))
            return [{"sample_id": ids.get(row.slice_id), "slice_id": row.slice_id,
                     "kind": row.kind, "question_type": row.question_type, "split": row.split,
                     "messages": row.messages, "meta": row.meta} for row in rows]
        rows = session.scalars(select(SilverLabel)
                               .where(SilverLabel.pipeline_run_id == run.id,
                                      SilverLabel.stage == stage))
        entries = [{"sample_id": ids.get(row.slice_id), "slice_id": row.slice_id,
                    "stage": row.stage, "status": row.status, "model": row.model_name,
                    "prompt": row.template_id, "fields": row.fields, "notes": row.notes,
                    "raw_output": row.raw_output} for row in rows]
    return sorted(entries, key=lambda entry: entry["sample_id"] or "")
