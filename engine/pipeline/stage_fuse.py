"""Stage 3: fusion of the run A and run B labels of every sample (no model).

Writes one "fused" label per sample with status kept, healthy or dropped (the reason in its
notes) and records the counts in the run's stats. Fusion is deterministic, so the stage
rewrites all fused labels on every run and resumes by running again.
"""

from __future__ import annotations

from typing import Any

from db.session import Database
from engine.errors import InvalidInputError
from engine.pipeline.air import average_information_rate
from engine.pipeline.fusion import (DROPPED, HEALTHY, INCOMPLETE, KEPT, MODALITY_CONFLICT,
                                    SINGLE_LESION, fuse)
from engine.pipeline.labels import FUSED, RUN_A, RUN_B, stored_labels, write_label
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.progress import Progress

BATCH = 500


def run_fuse(db: Database, run: RunInfo, samples: list[Sample],
             progress: Progress) -> dict[str, Any]:
    """Fuse the labels of ``samples``; return the counts recorded in the run's stats.

    Raises InvalidInputError when neither extraction run has stored labels.
    """
    with db.session() as session:
        labels_a = stored_labels(session, run.id, RUN_A)
        labels_b = stored_labels(session, run.id, RUN_B)
    if not labels_a or not labels_b:
        missing = " and ".join(name for name, labels in (("run A", labels_a), ("run B", labels_b))
                               if not labels)
        raise InvalidInputError(f"pipeline run '{run.name}' has no labels from {missing}; run "
                                "the extract-a and extract-b stages first")

    counts = {"samples": len(samples), KEPT: 0, HEALTHY: 0, DROPPED: 0,
              "dropped_single_lesion": 0, "dropped_modality_conflict": 0,
              "dropped_incomplete": 0, "conflicting": 0}
    reason_keys = {SINGLE_LESION: "dropped_single_lesion",
                   MODALITY_CONFLICT: "dropped_modality_conflict",
                   INCOMPLETE: "dropped_incomplete"}
    kept_fields = []
    progress.start(len(samples), "fusing run A and run B")
    for start in range(0, len(samples), BATCH):
        batch = samples[start:start + BATCH]
        outcomes = [(sample, fuse(_fields(labels_a, sample), _fields(labels_b, sample)))
                    for sample in batch]
        with db.session(write=True) as session:
            for sample, outcome in outcomes:
                notes = list(outcome.notes)
                if outcome.reason:
                    notes.insert(0, f"dropped: {outcome.reason}")
                if outcome.conflicts:
                    notes.append(f"conflicting fields: {', '.join(outcome.conflicts)}")
                write_label(session, run.id, sample.slice_id, FUSED, status=outcome.status,
                            fields=outcome.fields, notes=notes)
        for _, outcome in outcomes:
            counts[outcome.status] += 1
            if outcome.reason:
                counts[reason_keys[outcome.reason]] += 1
            # Kept samples with a resolved disagreement and modality-conflict drops.
            counts["conflicting"] += bool(outcome.conflicts)
            if outcome.status == KEPT:
                kept_fields.append(outcome.fields)
        progress.advance(len(batch))
    counts["air"] = average_information_rate(kept_fields)
    return counts


def _fields(labels, sample: Sample):  # noqa: ANN001, ANN202 - label map and fields
    label = labels.get(sample.slice_id)
    if label is None or label.status != "ok":
        return None
    return label.fields
