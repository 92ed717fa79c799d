"""Background jobs from the GUI: submit, show progress, cancel, and start a worker.

Jobs run in a ``neuroonco worker`` process, never in the GUI. The panel polls the job
rows once a second. A job that finishes is announced with ``jobFinished(job_id, kind,
state)``, so the window can refresh what the job changed, and every poll's rows with
``statusesChanged(list of JobStatus)``, so other windows follow their jobs without a query
of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from db.session import Database
from engine.errors import WorkbenchError
from engine.jobs import queue
from engine.jobs.status import job_statuses
from engine.jobs.supervisor import WorkerSupervisor
from widgets.jobs_panel import JobsPanel

log = logging.getLogger(__name__)

POLL_MS = 1000
SHOWN_JOBS = 30


class JobsController(QObject):
    """Owns the jobs panel and this window's worker process."""

    jobFinished = Signal(int, str, str)
    statusesChanged = Signal(list)
    message = Signal(str)

    def __init__(self, db: Database, panel: JobsPanel, start_workers: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.panel = panel
        self.start_workers = start_workers
        self.supervisor = WorkerSupervisor(db)
        self._active: dict[int, str] = {}
        self._statuses: dict = {}
        panel.cancelRequested.connect(self.cancel)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()
        if self._active:
            self._ensure_worker()

    def submit(self, kind: str, params: dict[str, Any]) -> int:
        """Queue a job, make sure a worker runs it, and return its id."""
        job_id = queue.submit(self.db, kind, params)
        log.info("submitted job %d (%s)", job_id, kind)
        self._ensure_worker()
        self.message.emit(f"Job {job_id} ({kind}) queued.")
        self.poll()
        return job_id

    def resume(self, job_id: int) -> None:
        """Queue a failed or cancelled job again and make sure a worker runs it."""
        try:
            queue.resume(self.db, job_id)
        except WorkbenchError as error:
            self.message.emit(str(error))
            return
        log.info("resumed job %d", job_id)
        self._ensure_worker()
        self.message.emit(f"Job {job_id} queued again; it continues where it stopped.")
        self.poll()

    def status(self, job_id: int):
        """Return the last polled status of job ``job_id``, or None when it is not among them."""
        return self._statuses.get(job_id)

    def cancel(self, job_id: int) -> None:
        try:
            state = queue.cancel(self.db, job_id)
        except WorkbenchError as error:
            self.message.emit(str(error))
            return
        self.message.emit(f"Job {job_id}: cancel requested ({state}).")
        self.poll()

    def poll(self) -> None:
        """Read the job rows, update the panel and announce jobs that have finished."""
        statuses = job_statuses(self.db, limit=SHOWN_JOBS)
        self.panel.set_jobs(statuses)
        states = {status.job_id: status for status in statuses}
        self._statuses = states
        for job_id, kind in list(self._active.items()):
            status = states.get(job_id)
            if status is not None and not status.active:
                del self._active[job_id]
                self.jobFinished.emit(job_id, kind, status.state)
                self.message.emit(f"Job {job_id} ({kind}) {status.state}: {status.message or ''}".rstrip(": "))
        for status in statuses:
            if status.active:
                self._active.setdefault(status.job_id, status.kind)
        self.statusesChanged.emit(statuses)

    def _ensure_worker(self) -> None:
        if not self.start_workers:
            return
        try:
            if self.supervisor.ensure_worker():
                self.message.emit("Started a worker process for background jobs.")
        except OSError as error:
            log.error("could not start a worker: %s", error)
            self.message.emit(f"Could not start a worker process: {error}; run 'neuroonco worker' yourself.")

    def shutdown(self) -> str:
        self._timer.stop()
        return self.supervisor.shutdown()
