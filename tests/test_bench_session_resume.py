"""Sessions run by real ``neuroonco worker`` processes: kill -9 and cancel mid-session, then
resume, and compare with an uninterrupted run of the same configuration."""

from __future__ import annotations

import os
import signal
import time

import pytest

from conftest import run_cli, start_cli, wait_for
from db.models import Run
from engine.bench.baselines import RANDOM
from engine.bench.run_metrics import run_metrics
from engine.bench.run_catalog import attach_job
from engine.bench.session import run_session
from engine.jobs import queue
from session_helpers import answer_count, comparable, import_real, new_run, stored_answers

pytestmark = pytest.mark.slow


def _queue_run(db, name: str) -> tuple[int, int]:
    run_id = new_run(db, RANDOM, seed=7, name=name)
    job_id = queue.submit(db, "bench.run", {"run_id": run_id})
    attach_job(db, run_id, job_id)
    return run_id, job_id


def _uninterrupted(db) -> int:
    run_id = new_run(db, RANDOM, seed=7, name="uninterrupted")
    run_session(db, run_id)
    return run_id


def _status(db, run_id) -> str:
    with db.session() as session:
        return session.get(Run, run_id).status


def _assert_same_as_uninterrupted(db, run_id, reference_id, total):
    stored, distinct = answer_count(db, run_id)
    assert stored == total
    assert distinct == total
    assert comparable(run_metrics(db, run_id)) == comparable(run_metrics(db, reference_id))
    letters = {question_id: answer["parsed_letter"]
               for question_id, answer in stored_answers(db, run_id).items()}
    reference = {question_id: answer["parsed_letter"]
                 for question_id, answer in stored_answers(db, reference_id).items()}
    assert letters == reference


def test_resume_after_kill_9(db, db_url, shared_data):
    import_real(db, shared_data)
    reference_id = _uninterrupted(db)
    run_id, job_id = _queue_run(db, "killed")

    worker = start_cli(db_url, "worker")
    try:
        wait_for(lambda: answer_count(db, run_id)[0] > 0, timeout=60, interval=0.005)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    stored_at_kill, _ = answer_count(db, run_id)
    assert 0 < stored_at_kill < 3190, "the worker was not killed mid-session"
    assert _status(db, run_id) == "running"

    # Resuming finds the dead job, marks it failed and queues it again.
    resumed = run_cli(db_url, "bench", "resume", "killed", "--job")
    assert resumed.returncode == 0, resumed.stderr
    assert f"queued as job {job_id}" in resumed.stdout
    finished = run_cli(db_url, "worker", "--once", timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    job = queue.get_job(db, job_id)
    assert job.state == "succeeded"
    assert job.attempt == 2
    assert job.result["answered_before"] == stored_at_kill
    assert job.result["answered_now"] == 3190 - stored_at_kill
    assert _status(db, run_id) == "finished"
    _assert_same_as_uninterrupted(db, run_id, reference_id, 3190)


def test_cancel_then_resume(db, db_url, shared_data):
    import_real(db, shared_data, with_open=True)
    reference_id = _uninterrupted(db)
    total = 3190 + 1215
    run_id, job_id = _queue_run(db, "cancelled")

    worker = start_cli(db_url, "worker", "--idle-exit", "0.5")
    try:
        wait_for(lambda: answer_count(db, run_id)[0] > 0, timeout=60, interval=0.005)
        queue.cancel(db, job_id)
        wait_for(lambda: queue.get_job(db, job_id).state == "cancelled", timeout=60, interval=0.005)
    finally:
        worker.wait(timeout=60)
    stored_at_cancel, _ = answer_count(db, run_id)
    assert 0 < stored_at_cancel < total, "the session finished before the cancel arrived"
    assert _status(db, run_id) == "cancelled"
    assert queue.get_job(db, job_id).progress_done == stored_at_cancel

    resumed = run_cli(db_url, "bench", "resume", "cancelled", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - stored_at_cancel} questions answered now" in resumed.stdout
    assert f"{stored_at_cancel} answered before" in resumed.stdout
    assert _status(db, run_id) == "finished"
    _assert_same_as_uninterrupted(db, run_id, reference_id, total)


def test_resume_rejected_while_job_runs(db, db_url, shared_data):
    import_real(db, shared_data)
    run_id, job_id = _queue_run(db, "queued")

    result = run_cli(db_url, "bench", "resume", "queued")
    assert result.returncode == 1
    assert f"run 'queued' is queued in job {job_id}" in result.stderr
    deleted = run_cli(db_url, "bench", "delete-run", "queued")
    assert deleted.returncode == 1
    assert "cancel it with 'neuroonco jobs cancel" in deleted.stderr
    assert answer_count(db, run_id) == (0, 0)
