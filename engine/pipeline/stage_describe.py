"""Stage 1: the coarse description of every sample, stored in ``Slice.coarse_description``.

The description is the MM-NeuroOnco template sentence from the case's tumour type, the
series' modality and the slice's whole-lesion mask semantics (the same text that
computing a dataset's semantics writes for every slice). Rerunning the stage writes
the same text again, so an interrupted run resumes by running it again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from db.models import Slice
from db.session import Database
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.progress import Progress
from engine.semantics.describe import coarse_description

BATCH = 500


def describe_sample(sample: Sample) -> str:
    """Return the coarse description of one sample."""
    semantics = None
    if sample.mask is not None:
        semantics = {"size": sample.mask.size, "shape": sample.mask.shape,
                     "spread": sample.mask.spread, "location": sample.mask.location}
    return coarse_description(sample.tumour_type, sample.modality, semantics, sample.has_mask)


def run_describe(db: Database, run: RunInfo, samples: list[Sample],
                 progress: Progress) -> dict[str, Any]:
    """Write the coarse descriptions of ``samples``; return the stage's counts."""
    progress.start(len(samples), "writing coarse descriptions")
    with_morphology = 0
    for start in range(0, len(samples), BATCH):
        batch = samples[start:start + BATCH]
        values = [{"slice_id": sample.slice_id, "text": describe_sample(sample)}
                  for sample in batch]
        with db.session(write=True) as session:
            for value in values:
                session.execute(update(Slice).where(Slice.id == value["slice_id"])
                                .values(coarse_description=value["text"]))
        with_morphology += sum(sample.mask is not None for sample in batch)
        progress.advance(len(batch))
    return {"samples": len(samples), "with_morphology": with_morphology,
            "without_mask": len(samples) - with_morphology}
