"""Stage 7a: assign every instruction sample of the run to the training or benchmark split.

The split is computed from all cases that have instruction samples, so rerunning the stage
gives the same assignment and an interrupted run resumes by running again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select, update

from db.models import InstructionSample
from db.session import Database
from engine.errors import InvalidInputError
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.pipeline.splits import SPLITS, assign_splits
from engine.progress import Progress

CHUNK = 500


def run_split(db: Database, run: RunInfo, samples: list[Sample],
              progress: Progress) -> dict[str, Any]:
    """Split the run's instruction samples by case; return the counts per split.

    Raises InvalidInputError when the run has no instruction samples yet.
    """
    with db.session() as session:
        slice_ids = set(session.scalars(
            select(InstructionSample.slice_id).distinct()
            .where(InstructionSample.pipeline_run_id == run.id)))
    if not slice_ids:
        raise InvalidInputError(f"pipeline run '{run.name}' has no instruction samples; run "
                                "the generate stage first")
    by_slice = {sample.slice_id: sample for sample in samples if sample.slice_id in slice_ids}
    case_classes = {sample.case_id: sample.tumour_class for sample in by_slice.values()}
    assignment = assign_splits(case_classes, float(run.config["benchmark_share"]),
                               int(run.config["seed"]))

    slices_by_split: dict[str, list[int]] = defaultdict(list)
    for slice_id, sample in by_slice.items():
        slices_by_split[assignment[sample.case_id]].append(slice_id)

    progress.start(len(by_slice), "assigning splits")
    for split in SPLITS:
        ids = sorted(slices_by_split[split])
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            with db.session(write=True) as session:
                session.execute(update(InstructionSample)
                                .where(InstructionSample.pipeline_run_id == run.id,
                                       InstructionSample.slice_id.in_(chunk))
                                .values(split=split))
            progress.advance(len(chunk))

    with db.session() as session:
        rows = session.execute(
            select(InstructionSample.split, InstructionSample.kind)
            .where(InstructionSample.pipeline_run_id == run.id)).all()
    kinds_by_split: dict[str, Counter] = defaultdict(Counter)
    for split, kind in rows:
        kinds_by_split[split][kind] += 1
    cases = Counter(assignment.values())
    classes: dict[str, Counter] = defaultdict(Counter)
    for case_id, split in assignment.items():
        classes[split][case_classes[case_id]] += 1
    return {
        "benchmark_share": float(run.config["benchmark_share"]),
        "cases": {split: cases.get(split, 0) for split in SPLITS},
        "slices": {split: len(slices_by_split[split]) for split in SPLITS},
        "instructions": {split: dict(sorted(kinds_by_split[split].items())) for split in SPLITS},
        "cases_by_class": {split: dict(sorted(classes[split].items())) for split in SPLITS},
    }
