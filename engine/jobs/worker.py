"""The worker process: claims queued jobs and runs them, one at a time.

Jobs run in a process apart from the GUI, so a crash in a native library (a decoder,
llama.cpp, torch) ends the worker and marks the job failed, but never takes the GUI down.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from db.models import Job, Worker, utcnow
from db.session import SQLITE_BUSY_TIMEOUT_MS, Database
from engine.errors import Cancelled, WorkbenchError
from engine.jobs.queue import HOSTNAME, claim_next, recover_dead_jobs
from engine.jobs.registry import get_kind
from engine.progress import Progress

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 5.0
# Progress rows and cancel checks are written and read at most this often.
PROGRESS_INTERVAL_S = 0.25
# How long a progress update waits for the SQLite write lock before it is skipped.
LOCK_WAIT_MS = 200


class JobProgress(Progress):
    """Progress that writes to the job row and raises Cancelled when cancel was requested."""

    def __init__(self, db: Database, job_id: int, stop_event: threading.Event | None = None) -> None:
        super().__init__()
        self.db = db
        self.job_id = job_id
        self.stop_event = stop_event
        self._pending_log: list[str] = []
        self._last_sync = 0.0
        self._cancel_requested = False
        self._lock = threading.Lock()

    def report(self) -> None:
        self._sync(force=False)

    def check(self) -> None:
        self._sync(force=False)

    def log(self, line: str) -> None:
        with self._lock:
            self._pending_log.append(line.rstrip("\n") + "\n")

    def flush(self) -> None:
        self._sync(force=True, raise_cancel=False)

    def _sync(self, force: bool, raise_cancel: bool = True) -> None:
        now = time.monotonic()
        if force or now - self._last_sync >= PROGRESS_INTERVAL_S:
            self._last_sync = now
            self._write(wait_for_lock=force)
        if raise_cancel and self._cancel_requested:
            raise Cancelled()
        if raise_cancel and self.stop_event is not None and self.stop_event.is_set():
            raise Cancelled("cancelled because the worker was asked to stop")

    def _write(self, wait_for_lock: bool) -> None:
        """Write progress and log lines to the job row and read its cancel flag.

        Progress is best effort: on SQLite a job that holds a long write transaction of its
        own (an import) keeps the write lock, so an update that cannot get the lock within
        0.2 s is skipped and its log lines wait for the next one. The cancel flag is still
        read, because WAL lets a reader run beside the writer.
        """
        with self._lock:
            lines, self._pending_log = "".join(self._pending_log), []
        values = {"progress_done": self.done, "progress_total": self.total,
                  "heartbeat_at": utcnow()}
        if self.message:
            values["message"] = self.message
        if lines:
            values["log"] = Job.log + lines
        sqlite = self.db.engine.dialect.name == "sqlite"
        with self.db.engine.connect() as connection:
            if sqlite and not wait_for_lock:
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
            try:
                connection.execute(update(Job).where(Job.id == self.job_id).values(**values))
                connection.commit()
            except OperationalError:
                connection.rollback()
                with self._lock:
                    self._pending_log.insert(0, lines)
            finally:
                if sqlite and not wait_for_lock:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                    connection.commit()
        with self.db.engine.connect() as connection:
            flag = connection.execute(select(Job.cancel_requested).where(Job.id == self.job_id))
            self._cancel_requested = bool(flag.scalar())


class _JobLogHandler(logging.Handler):
    """Copies log records emitted while a job runs into the job's log."""

    def __init__(self, progress: JobProgress) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.log(self.format(record))


def run_job(db: Database, job_id: int, stop_event: threading.Event | None = None) -> str:
    """Run the claimed job ``job_id`` in this process; return its final state.

    Setting ``stop_event`` cancels the job at its next progress call.
    """
    job_row = _load(db, job_id)
    progress = JobProgress(db, job_id, stop_event)
    handler = _JobLogHandler(progress)
    logging.getLogger().addHandler(handler)
    state, message, result = "failed", None, None
    try:
        kind = get_kind(job_row["kind"])
        progress.log(f"attempt {job_row['attempt']} started by pid {os.getpid()} on {HOSTNAME}")
        result = kind.run(db, job_row["params"], progress)
        state, message = "succeeded", "finished"
    except Cancelled as error:
        state, message = "cancelled", str(error)
    except WorkbenchError as error:
        state, message = "failed", str(error)
        progress.log(f"error: {error}")
    except Exception as error:  # noqa: BLE001 - any failure of a job is recorded, not raised
        state, message = "failed", f"{type(error).__name__}: {error}"
        progress.log(traceback.format_exc())
        log.exception("job %s failed", job_id)
    finally:
        logging.getLogger().removeHandler(handler)
    progress.flush()
    with db.session(write=True) as session:
        job = session.get(Job, job_id)
        job.state = state
        job.message = message
        job.result = result if isinstance(result, dict) else job.result
        job.finished_at = utcnow()
        job.cancel_requested = False
    return state


def _load(db: Database, job_id: int) -> dict[str, Any]:
    with db.session() as session:
        job = session.get(Job, job_id)
        return {"kind": job.kind, "params": dict(job.params or {}), "attempt": job.attempt}


class WorkerLoop:
    """Claims and runs jobs until stopped; writes a heartbeat for itself and its job."""

    def __init__(self, db: Database, poll_interval: float = 0.5, idle_exit_s: float | None = None,
                 max_jobs: int | None = None) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.idle_exit_s = idle_exit_s
        self.max_jobs = max_jobs
        self.worker_id = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._current_job: int | None = None

    def stop(self) -> None:
        """Stop after the current job (called from a signal handler or another thread)."""
        self._stop.set()

    def run(self) -> int:
        """Run the loop; return the number of jobs run."""
        recovered = recover_dead_jobs(self.db)
        if recovered:
            log.warning("marked jobs %s failed: their worker process had died", recovered)
        self._register()
        heartbeat = threading.Thread(target=self._heartbeat_loop, daemon=True)
        heartbeat.start()
        jobs_run = 0
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                job_id = claim_next(self.db, self.worker_id)
                if job_id is None:
                    if self.idle_exit_s is not None and time.monotonic() - idle_since > self.idle_exit_s:
                        break
                    self._stop.wait(self.poll_interval)
                    continue
                self._set_state("busy", job_id)
                log.info("worker %s runs job %s", self.worker_id, job_id)
                state = run_job(self.db, job_id, self._stop)
                log.info("job %s %s", job_id, state)
                self._set_state("idle", None)
                jobs_run += 1
                idle_since = time.monotonic()
                if self.max_jobs is not None and jobs_run >= self.max_jobs:
                    break
        finally:
            self._stop.set()
            self._set_state("stopped", None)
        return jobs_run

    def _register(self) -> None:
        with self.db.session(write=True) as session:
            session.add(Worker(id=self.worker_id, hostname=HOSTNAME, pid=os.getpid(), state="idle"))

    def _set_state(self, state: str, job_id: int | None) -> None:
        self._current_job = job_id
        with self.db.session(write=True) as session:
            session.execute(
                update(Worker).where(Worker.id == self.worker_id)
                .values(state=state, current_job_id=job_id, heartbeat_at=utcnow())
            )

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                with self.db.session(write=True) as session:
                    now = utcnow()
                    session.execute(
                        update(Worker).where(Worker.id == self.worker_id).values(heartbeat_at=now)
                    )
                    if self._current_job is not None:
                        session.execute(
                            update(Job).where(Job.id == self._current_job).values(heartbeat_at=now)
                        )
            except Exception:  # noqa: BLE001 - a missed heartbeat must not kill the worker
                log.warning("worker heartbeat failed", exc_info=True)


def install_signal_handlers(loop: WorkerLoop) -> None:
    """Make SIGTERM and SIGINT stop the worker; a running job is cancelled at its next unit."""

    def _handle(signum, _frame):  # noqa: ANN001
        # Only set a flag: database work inside a signal handler could wait on a lock
        # that the interrupted code holds.
        log.info("worker received signal %s; stopping", signum)
        loop.stop()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)
