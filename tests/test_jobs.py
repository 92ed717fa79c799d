"""The job engine with real worker processes: claim, progress, cancel, crash, several workers."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from sqlalchemy import select

from conftest import run_cli, start_cli, wait_for
from db.models import Job
from engine.jobs import queue
from engine.jobs.worker import WorkerLoop, run_job

pytestmark = pytest.mark.slow


def _state(db, job_id):
    return queue.get_job(db, job_id).state


def test_job_runs_in_process(db):
    job_id = queue.submit(db, "selftest.count", {"total": 3, "interval": 0})
    assert queue.claim_next(db, "w1") == job_id
    assert run_job(db, job_id) == "succeeded"
    job = queue.get_job(db, job_id)
    assert job.result == {"counted": 3}
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert "attempt 1 started" in job.log


def test_unknown_kind_rejected(db):
    from engine.errors import NotFoundError

    with pytest.raises(NotFoundError, match="unknown job kind 'nope'"):
        queue.submit(db, "nope")


def test_worker_process_runs_job(db, db_url):
    job_id = queue.submit(db, "selftest.count", {"total": 5, "interval": 0.01})
    result = run_cli(db_url, "worker", "--once", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _state(db, job_id) == "succeeded"


def test_cancel_running_job(db, db_url):
    job_id = queue.submit(db, "selftest.count", {"total": 1000, "interval": 0.05})
    worker = start_cli(db_url, "worker", "--idle-exit", "1")
    try:
        wait_for(lambda: queue.get_job(db, job_id).progress_done >= 2)
        assert run_cli(db_url, "jobs", "cancel", str(job_id)).returncode == 0
        requested = time.monotonic()
        wait_for(lambda: _state(db, job_id) == "cancelled", timeout=20)
        elapsed = time.monotonic() - requested
        job = queue.get_job(db, job_id)
        assert job.progress_done < 1000
        # Cancel is checked at every unit (0.05 s here); allow for a slow CI machine.
        assert elapsed < 10
    finally:
        worker.wait(timeout=60)


def test_cancel_queued_job(db):
    job_id = queue.submit(db, "selftest.count", {"total": 1})
    assert queue.cancel(db, job_id) == "cancelled"
    assert queue.claim_next(db, "w1") is None


def test_killed_worker_marks_job_failed(db, db_url):
    job_id = queue.submit(db, "selftest.count", {"total": 1000, "interval": 0.05})
    worker = start_cli(db_url, "worker")
    wait_for(lambda: _state(db, job_id) == "running")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert _state(db, job_id) == "running"  # nobody knows yet
    # The next worker to start finds the dead job.
    result = run_cli(db_url, "worker", "--idle-exit", "0.2", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    job = queue.get_job(db, job_id)
    assert job.state == "failed"
    assert f"pid {worker.pid}" in job.message and "died" in job.message


def test_sigterm_stops_worker_and_cancels_job(db, db_url):
    job_id = queue.submit(db, "selftest.count", {"total": 1000, "interval": 0.05})
    worker = start_cli(db_url, "worker")
    wait_for(lambda: _state(db, job_id) == "running")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert _state(db, job_id) == "cancelled"


def test_two_workers_never_share_a_job(db, db_url):
    job_ids = [queue.submit(db, "selftest.count", {"total": 2, "interval": 0.01}) for _ in range(16)]
    workers = [start_cli(db_url, "worker", "--idle-exit", "1.5") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    with db.session() as session:
        jobs = list(session.scalars(select(Job).where(Job.id.in_(job_ids))))
    assert all(job.state == "succeeded" for job in jobs)
    assert all(job.attempt == 1 for job in jobs)
    assert len({job.worker_id for job in jobs}) == 2


def test_failed_job_records_error(db):
    job_id = queue.submit(db, "selftest.count", {"total": "many"})
    queue.claim_next(db, "w1")
    assert run_job(db, job_id) == "failed"
    job = queue.get_job(db, job_id)
    assert "ValueError" in job.message
    assert "Traceback" in job.log


def test_resume_rejected_for_non_resumable_kind(db):
    from engine.errors import WorkbenchError

    job_id = queue.submit(db, "selftest.count", {"total": 1})
    queue.cancel(db, job_id)
    with pytest.raises(WorkbenchError, match="cannot resume"):
        queue.resume(db, job_id)


def test_jobs_cli_list_and_log(db, db_url):
    job_id = queue.submit(db, "selftest.count", {"total": 1, "interval": 0})
    WorkerLoop(db, idle_exit_s=0, max_jobs=1).run()
    listing = run_cli(db_url, "jobs", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)[0]["state"] == "succeeded"
    shown = run_cli(db_url, "jobs", "log", str(job_id))
    assert "attempt 1 started" in shown.stdout
    missing = run_cli(db_url, "jobs", "log", "999")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: job 999 not found; list jobs with 'neuroonco jobs list'"


def test_progress_inside_own_write_transaction(db):
    """A job that reports progress while it holds the SQLite write lock must not stall."""
    from db.models import Dataset
    from engine.jobs.registry import job_kind

    @job_kind("test.progress_in_transaction")
    def _job(database, params, progress):
        progress.start(3, "writing")
        with database.session(write=True) as session:
            session.add(Dataset(name="written under progress"))
            session.flush()
            for _ in range(3):
                time.sleep(0.3)
                progress.log("one unit")
                progress.advance()
        return {"ok": True}

    job_id = queue.submit(db, "test.progress_in_transaction")
    queue.claim_next(db, "w1")
    assert run_job(db, job_id) == "succeeded"
    job = queue.get_job(db, job_id)
    assert job.progress_done == 3
    # Lines skipped while the lock was held are written by the final flush.
    assert job.log.count("one unit") == 3


def test_supervisor_starts_and_stops_worker(db):
    from engine.jobs.supervisor import WorkerSupervisor

    supervisor = WorkerSupervisor(db)
    assert supervisor.ensure_worker() is True
    wait_for(lambda: queue.alive_workers(db))
    # A live worker is reused, not duplicated.
    assert supervisor.ensure_worker() is False
    assert WorkerSupervisor(db).ensure_worker() is False
    job_id = queue.submit(db, "selftest.count", {"total": 2, "interval": 0.01})
    wait_for(lambda: _state(db, job_id) == "succeeded")
    assert supervisor.shutdown() == "stopped"
    assert supervisor.process.returncode == 0


def test_supervisor_leaves_busy_worker_running(db):
    from engine.jobs.supervisor import WorkerSupervisor

    supervisor = WorkerSupervisor(db)
    supervisor.ensure_worker()
    job_id = queue.submit(db, "selftest.count", {"total": 1000, "interval": 0.05})
    wait_for(lambda: _state(db, job_id) == "running")
    assert supervisor.shutdown() == "left running"
    assert supervisor.process.poll() is None
    queue.cancel(db, job_id)
    wait_for(lambda: _state(db, job_id) == "cancelled")
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(timeout=30) == 0
