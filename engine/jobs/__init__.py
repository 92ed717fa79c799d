"""Background jobs stored in the database and run by ``neuroonco worker`` processes."""

from engine.jobs.queue import cancel, get_job, list_jobs, resume, submit
from engine.jobs.registry import job_kind

__all__ = ["cancel", "get_job", "job_kind", "list_jobs", "resume", "submit"]
