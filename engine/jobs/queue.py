"""Submitting, claiming, cancelling and resuming jobs stored as database rows.

Claiming is one conditional UPDATE (``... WHERE id = :id AND state = 'queued'``), which
is atomic on SQLite and PostgreSQL alike, so several workers never run the same job.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update

from db.models import Job, Worker, utcnow
from db.session import Database
from engine.errors import NotFoundError, WorkbenchError
from engine.jobs.registry import get_kind

ACTIVE_STATES = ("queued", "running")
# A worker that has not written its heartbeat for this long is taken to be dead.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)
HOSTNAME = socket.gethostname()


def submit(db: Database, kind: str, params: dict[str, Any] | None = None) -> int:
    """Queue a job of ``kind`` with JSON-serialisable ``params``; return its id."""
    get_kind(kind)
    with db.session(write=True) as session:
        job = Job(kind=kind, params=params or {}, state="queued")
        session.add(job)
        session.flush()
        return job.id


def get_job(db: Database, job_id: int) -> Job:
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found; list jobs with 'neuroonco jobs list'")
        session.expunge(job)
        return job


def list_jobs(db: Database, states: tuple[str, ...] | None = None, limit: int = 200) -> list[Job]:
    with db.session() as session:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if states:
            query = query.where(Job.state.in_(states))
        jobs = list(session.scalars(query))
        session.expunge_all()
        return jobs


def cancel(db: Database, job_id: int) -> str:
    """Ask job ``job_id`` to stop; a queued job is cancelled at once. Return its new state."""
    with db.session(write=True) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found; list jobs with 'neuroonco jobs list'")
        if job.state == "queued":
            job.state = "cancelled"
            job.finished_at = utcnow()
            job.message = "cancelled before it started"
        elif job.state == "running":
            job.cancel_requested = True
        return job.state


def resume(db: Database, job_id: int) -> None:
    """Queue a failed or cancelled job again; its kind skips the work already committed."""
    with db.session(write=True) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found; list jobs with 'neuroonco jobs list'")
        kind = get_kind(job.kind)
        if job.state not in ("failed", "cancelled"):
            raise WorkbenchError(f"job {job_id} is {job.state}; only failed or cancelled jobs resume")
        if not kind.resumable:
            raise WorkbenchError(
                f"job {job_id} ({job.kind}) cannot resume; submit it again instead"
            )
        job.state = "queued"
        job.cancel_requested = False
        job.finished_at = None
        job.message = f"resumed after attempt {job.attempt}"
        job.log = (job.log or "") + f"--- resumed after attempt {job.attempt}\n"


def claim_next(db: Database, worker_id: str, kinds: tuple[str, ...] | None = None) -> int | None:
    """Claim the oldest queued job for ``worker_id``; return its id, or None if none is queued."""
    while True:
        with db.session() as session:
            query = select(Job.id).where(Job.state == "queued").order_by(Job.id).limit(1)
            if kinds:
                query = query.where(Job.kind.in_(kinds))
            job_id = session.scalar(query)
        if job_id is None:
            return None
        now = utcnow()
        with db.session(write=True) as session:
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "queued")
                .values(
                    state="running", worker_id=worker_id, pid=os.getpid(), hostname=HOSTNAME,
                    started_at=now, heartbeat_at=now, attempt=Job.attempt + 1,
                    cancel_requested=False,
                )
            ).rowcount
        if claimed == 1:
            return job_id
        # Another worker claimed it between the two statements; look for the next one.


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes even for timezone-aware columns; they are stored in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def recover_dead_jobs(db: Database) -> list[int]:
    """Mark running jobs whose process died (killed, crashed) as failed; return their ids.

    A job on this host is dead when its process no longer exists; a job on another host
    (shared PostgreSQL) when its heartbeat is older than :data:`HEARTBEAT_TIMEOUT`.
    """
    dead = []
    now = utcnow()
    with db.session(write=True) as session:
        for job in session.scalars(select(Job).where(Job.state == "running")):
            heartbeat = _aware(job.heartbeat_at)
            if job.hostname == HOSTNAME:
                is_dead = not _process_alive(job.pid)
            else:
                is_dead = heartbeat is None or now - heartbeat > HEARTBEAT_TIMEOUT
            if not is_dead:
                continue
            resumable = get_kind(job.kind).resumable if job.kind else False
            hint = f"resume it with 'neuroonco jobs resume {job.id}'" if resumable else "submit it again"
            job.state = "failed"
            job.finished_at = now
            job.message = f"the worker process (pid {job.pid}) died while running this job; {hint}"
            job.log = (job.log or "") + job.message + "\n"
            dead.append(job.id)
        for worker in session.scalars(select(Worker).where(Worker.state != "stopped")):
            if worker.hostname == HOSTNAME and not _process_alive(worker.pid):
                worker.state = "stopped"
    return dead


def alive_workers(db: Database) -> list[Worker]:
    """Return the workers whose heartbeat is recent and (on this host) whose process exists."""
    now = utcnow()
    alive = []
    with db.session() as session:
        for worker in session.scalars(select(Worker).where(Worker.state != "stopped")):
            if now - _aware(worker.heartbeat_at) > HEARTBEAT_TIMEOUT:
                continue
            if worker.hostname == HOSTNAME and not _process_alive(worker.pid):
                continue
            alive.append(worker)
        session.expunge_all()
    return alive
