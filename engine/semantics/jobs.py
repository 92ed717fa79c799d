"""The ``semantics.compute`` job kind."""

from __future__ import annotations

from engine.jobs.registry import job_kind
from engine.semantics.store import compute_dataset, dataset_id_by_name


# Resumable: each mask commits on its own and a resumed run skips finished masks.
@job_kind("semantics.compute", resumable=True,
          description="Compute mask semantics and coarse descriptions of a dataset "
                      "('dataset' name, optional 'recompute')")
def run_semantics(db, params, progress):
    """Compute the semantics of one dataset's masks; return the counts."""
    dataset_id = dataset_id_by_name(db, params["dataset"])
    summary = compute_dataset(db, dataset_id, progress, recompute=bool(params.get("recompute")))
    return summary.to_dict()
