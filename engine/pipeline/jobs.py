"""Job kinds of the instruction pipeline, run by ``neuroonco worker``.

Every kind takes ``run`` (the pipeline run's name; the run must exist). ``pipeline.run``
runs the stages listed in ``stages`` in order; the others run one stage each. All are
resumable: each stage skips the work an earlier attempt committed, or redoes work that is
deterministic. ``pipeline.export`` and stages lists with "export" need ``out``.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import InvalidInputError
from engine.jobs.registry import job_kind
from engine.pipeline.stages import STAGES, StageOptions, run_stages


def _run(db, params, progress, stages):  # noqa: ANN001, ANN202 - the job runner's signature
    if not params.get("run"):
        raise InvalidInputError("pipeline job has no 'run' parameter; pass the pipeline run's "
                                "name")
    out = Path(params["out"]) if params.get("out") else None
    return run_stages(db, params["run"], stages, progress, StageOptions(out=out))


@job_kind("pipeline.run", resumable=True,
          description="Run pipeline stages on a pipeline run: 'run', 'stages' (comma-separated "
                      "or a list), optional 'out' for the export stage")
def run_pipeline_job(db, params, progress):  # noqa: ANN001
    """Run the listed stages of a pipeline run in order."""
    return _run(db, params, progress, params.get("stages") or "all")


def _stage_job(stage: str):
    def run(db, params, progress):  # noqa: ANN001, ANN202
        return _run(db, params, progress, [stage])

    run.__name__ = f"run_{stage.replace('-', '_')}_job"
    return run


for _stage in STAGES:
    job_kind(f"pipeline.{_stage}", resumable=True,
             description=f"Run the pipeline's {_stage} stage on pipeline run 'run'"
                         + (" (needs 'out')" if _stage == "export" else ""))(_stage_job(_stage))
