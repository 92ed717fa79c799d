"""Starting and stopping worker processes on behalf of the GUI.

The GUI starts a worker when none is alive, and on exit stops the worker it started unless
jobs are still queued or running; such a worker keeps going after the GUI has closed and
exits by itself once idle.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from db.models import Job
from db.session import Database, data_dir
from engine.jobs.queue import alive_workers

log = logging.getLogger(__name__)

# A worker left behind by a closed GUI exits after this long without work.
DETACHED_IDLE_EXIT_S = 300


def active_job_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(
            select(func.count()).select_from(Job).where(Job.state.in_(("queued", "running")))
        ) or 0


class WorkerSupervisor:
    """Owns at most one worker process started by this program."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.process: subprocess.Popen | None = None

    def ensure_worker(self) -> bool:
        """Start a worker unless one is alive; return True if this call started one."""
        if self.process is not None and self.process.poll() is None:
            return False
        if alive_workers(self.db):
            return False
        self.process = start_worker(self.db.engine.url.render_as_string(hide_password=False))
        log.info("started worker process %s", self.process.pid)
        return True

    def shutdown(self, timeout: float = 10.0) -> str:
        """Stop the worker this program started, unless jobs are queued or running.

        Returns "stopped", "left running" or "none".
        """
        if self.process is None or self.process.poll() is not None:
            return "none"
        if active_job_count(self.db):
            log.info("leaving worker %s running: jobs are queued or running", self.process.pid)
            return "left running"
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("worker %s did not stop within %.0f s; killing it", self.process.pid, timeout)
            self.process.kill()
            self.process.wait(timeout=timeout)
        return "stopped"


def start_worker(db_url: str, idle_exit_s: float | None = DETACHED_IDLE_EXIT_S) -> subprocess.Popen:
    """Start ``neuroonco worker`` for ``db_url`` in its own session, logging to the data folder."""
    log_dir = data_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "engine.cli.main", "--db", db_url, "worker"]
    if idle_exit_s is not None:
        command += ["--idle-exit", str(idle_exit_s)]
    env = dict(os.environ)
    repo_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = repo_root + os.pathsep + env.get("PYTHONPATH", "")
    with open(log_dir / "worker.log", "ab") as log_file:
        # A new session keeps the worker alive when the GUI's terminal or process group ends.
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
