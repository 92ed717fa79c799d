"""What a session dialog offers, and which job a run's resume continues.

The GUI and ``neuroonco bench run`` / ``bench resume`` create, submit and resume runs with
the same engine calls. These helpers gather the choices (benchmarks, models with their
adapters, baselines, closed-question prompt templates) and make the resume decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from db.models import Benchmark, Job, Model, Run
from db.session import Database
from engine.bench.baselines import BASELINES
from engine.bench.run_catalog import get_run, require_no_active_job
from engine.bench.runs import CANCELLED, CREATED, FAILED, RUNNING
from engine.errors import WorkbenchError

RUN_JOB_KIND = "bench.run"
RESUMABLE_JOB_STATES = ("failed", "cancelled")
UNFINISHED_STATUSES = (CREATED, RUNNING, FAILED, CANCELLED)


@dataclass(frozen=True)
class ModelOption:
    """A registered model that can answer a session, with its adapters' names."""

    name: str
    backend: str
    adapters: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionChoices:
    benchmarks: tuple[str, ...]
    models: tuple[ModelOption, ...]
    baselines: tuple[str, ...]
    templates: tuple[str, ...]


def closed_template_ids() -> tuple[str, ...]:
    """Return the ids of the closed-question prompt templates in ``resources/prompts``."""
    from engine.inference.prompts import CLOSED_KINDS, available_templates

    return tuple(sorted({template.id for template in available_templates()
                         if template.kind in CLOSED_KINDS}))


def session_choices(db: Database) -> SessionChoices:
    """Return the benchmarks, registered models (with adapters), baselines and templates."""
    with db.session() as session:
        benchmarks = tuple(session.scalars(select(Benchmark.name).order_by(Benchmark.name)))
        models = tuple(
            ModelOption(model.name, model.backend,
                        tuple(sorted(adapter.name for adapter in model.adapters)))
            for model in session.scalars(select(Model).order_by(Model.name)))
    return SessionChoices(benchmarks, models, BASELINES, closed_template_ids())


def run_job_params(db: Database, run_id: int) -> dict:
    """Return the parameters of the ``bench.run`` job that answers run ``run_id``."""
    with db.session() as session:
        name = session.scalar(select(Run.name).where(Run.id == run_id))
    return {"run_id": run_id, "run": name}


def resume_target(db: Database, run_name: str) -> tuple[int, int | None]:
    """Return (run id, id of its failed or cancelled job to queue again, or None).

    None means a new ``bench.run`` job is needed (the run never had one, or its job is
    gone). Raises WorkbenchError for an external run or a run whose job is still queued
    or running, NotFoundError for an unknown run.
    """
    with db.session() as session:
        run = get_run(session, run_name)
        session.expunge(run)
    if run.external:
        raise WorkbenchError(f"run '{run.name}' was imported from a prediction file; there is "
                             "nothing to resume")
    require_no_active_job(db, run, "resume it")
    if run.job_id is None:
        return run.id, None
    with db.session() as session:
        job = session.get(Job, run.job_id)
        if job is not None and job.kind == RUN_JOB_KIND and job.state in RESUMABLE_JOB_STATES:
            return run.id, job.id
    return run.id, None


def unfinished_runs(db: Database) -> list[str]:
    """Return the names of runs a resume can continue: not finished and not imported.

    A run whose worker died still has status ``running``. :func:`resume_target` tells it
    apart from one that is really running.
    """
    with db.session() as session:
        return list(session.scalars(
            select(Run.name).where(Run.external.is_(False), Run.status.in_(UNFINISHED_STATUSES))
            .order_by(Run.id)))
