"""Finding, listing and deleting benchmark runs, and keeping their status and job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Answer, Benchmark, Job, Judgement, Run, utcnow
from db.session import Database
from engine.bench.catalog import get_benchmark
from engine.bench.plan import CLOSED, OPEN
from engine.bench.runs import FINISHED
from engine.errors import NotFoundError, WorkbenchError


def get_run(session: Session, name: str) -> Run:
    """Return the run called ``name``, or the run with id ``name`` when it is all digits.

    A run name wins over an equal id, so a run named "12" is found by its name. Raises
    NotFoundError when neither matches.
    """
    run = session.scalar(select(Run).where(Run.name == name))
    if run is None and name.isdigit():
        run = session.get(Run, int(name))
    if run is None:
        raise NotFoundError(f"run '{name}' not found; list runs with 'neuroonco bench runs'")
    return run


def list_runs(db: Database, benchmark: str | None = None) -> list[dict[str, Any]]:
    """Return one summary per run, oldest first: configuration, status and stored answers.

    ``accuracy`` counts every planned closed question, so unanswered ones count as wrong.
    """
    with db.session() as session:
        query = (select(Run, Benchmark.name).join(Benchmark, Run.benchmark_id == Benchmark.id)
                 .order_by(Run.id))
        if benchmark is not None:
            query = query.where(Run.benchmark_id == get_benchmark(session, benchmark).id)
        counts = {run_id: (answers, correct, skipped) for run_id, answers, correct, skipped in
                  session.execute(
                      select(Answer.run_id, func.count(),
                             func.count().filter(Answer.is_correct.is_(True)),
                             func.count().filter(Answer.skipped.is_not(None)))
                      .group_by(Answer.run_id))}
        runs = []
        for run, benchmark_name in session.execute(query):
            planned = run.config.get("questions", {})
            total = planned.get(CLOSED, 0) + planned.get(OPEN, 0)
            answers, correct, skipped = counts.get(run.id, (0, 0, 0))
            runs.append({
                "id": run.id, "name": run.name, "benchmark": benchmark_name, "model": run.model_name,
                "adapter": run.adapter_name, "setting": run.setting, "mode": run.mode,
                "seed": run.seed, "template": run.template_id, "external": run.external,
                "status": run.status, "questions": total, "answers": answers,
                "skipped": skipped, "correct": correct,
                "accuracy": correct / planned[CLOSED] if planned.get(CLOSED) else None,
                "job_id": run.job_id, "created_at": run.created_at,
                "finished_at": run.finished_at,
            })
        return runs


def active_job(db: Database, run: Run) -> Job | None:
    """Return the run's job while it is queued or running in a live worker, else None."""
    if run.job_id is None:
        return None
    from engine.jobs.queue import recover_dead_jobs

    recover_dead_jobs(db)
    with db.session() as session:
        job = session.get(Job, run.job_id)
        if job is None or job.state not in ("queued", "running"):
            return None
        session.expunge(job)
        return job


def require_no_active_job(db: Database, run: Run, action: str) -> None:
    """Raise WorkbenchError when a job still works on ``run``."""
    job = active_job(db, run)
    if job is not None:
        raise WorkbenchError(f"run '{run.name}' is {job.state} in job {job.id}; wait for it or "
                             f"cancel it with 'neuroonco jobs cancel {job.id}' before you "
                             f"{action}")


def delete_run(db: Database, name: str) -> dict[str, int]:
    """Delete run ``name`` (or id) with its answers and judgements; return the run's name and
    how many rows were deleted.

    Raises WorkbenchError while a job still works on the run.
    """
    with db.session() as session:
        run = get_run(session, name)
    require_no_active_job(db, run, "delete it")
    with db.session(write=True) as session:
        run = get_run(session, name)
        answers = session.scalar(select(func.count()).select_from(Answer)
                                 .where(Answer.run_id == run.id))
        judgements = session.scalar(
            select(func.count()).select_from(Judgement)
            .join(Answer, Judgement.answer_id == Answer.id).where(Answer.run_id == run.id))
        name = run.name
        session.delete(run)
    return {"name": name, "answers": answers, "judgements": judgements}


def set_status(db: Database, run_id: int, status: str, job_id: int | None = None) -> None:
    with db.session(write=True) as session:
        run = session.get(Run, run_id)
        run.status = status
        if job_id is not None:
            run.job_id = job_id
        run.finished_at = utcnow() if status == FINISHED else None


def attach_job(db: Database, run_id: int, job_id: int) -> None:
    """Record that job ``job_id`` answers run ``run_id``."""
    with db.session(write=True) as session:
        session.get(Run, run_id).job_id = job_id
