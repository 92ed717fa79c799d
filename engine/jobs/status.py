"""Job rows as the jobs panel shows them: progress, estimated time left, state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from db.models import utcnow
from db.session import Database
from engine.jobs.queue import list_jobs

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class JobStatus:
    """One job for display. ``eta_seconds`` is None until progress allows an estimate."""

    job_id: int
    kind: str
    state: str
    done: int
    total: int | None
    message: str | None
    eta_seconds: float | None
    cancel_requested: bool

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float | None:
        """Share of the work done, 0 to 1; None while the total is unknown."""
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)


def eta_seconds(done: int, total: int | None, started_at: datetime | None,
                now: datetime) -> float | None:
    """Estimate the seconds left from the mean rate so far; None before the first unit."""
    if not total or done <= 0 or started_at is None:
        return None
    if started_at.tzinfo is None:  # SQLite returns naive datetimes; they are stored in UTC
        started_at = started_at.replace(tzinfo=timezone.utc)
    elapsed = (now - started_at).total_seconds()
    if elapsed <= 0:
        return None
    return max(elapsed / done * (total - done), 0.0)


def job_statuses(db: Database, limit: int = 50, now: datetime | None = None) -> list[JobStatus]:
    """Return the newest ``limit`` jobs, newest first, with their estimated time left."""
    now = now or utcnow()
    return [
        JobStatus(
            job_id=job.id, kind=job.kind, state=job.state, done=job.progress_done,
            total=job.progress_total, message=job.message,
            eta_seconds=eta_seconds(job.progress_done, job.progress_total, job.started_at, now)
            if job.state == "running" else None,
            cancel_requested=job.cancel_requested,
        )
        for job in list_jobs(db, limit=limit)
    ]
