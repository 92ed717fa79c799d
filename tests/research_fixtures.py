"""Fixtures for the research-window tests: a main window with the research windows attached,
and helpers that run queued jobs in this process or wait for a real worker.
"""

from __future__ import annotations

import pytest

from engine.jobs import queue
from engine.jobs.worker import run_job

JOB_TIMEOUT_MS = 120_000


@pytest.fixture
def research_window(make_window):
    """Return a function that shows a MainWindow over ``db`` with the research windows attached."""
    from app.research import attach_research

    def make(db, start_workers: bool = False, reattach: bool = False):
        window = make_window(db, start_workers=start_workers)
        attach_research(window, reattach=reattach)
        return window

    return make


def run_queued_jobs(window) -> list[tuple[int, str]]:
    """Run every queued job in this process, as a worker would; return (job id, state) pairs.

    The window polls the job rows afterwards, so its ``jobFinished`` signals go out.
    """
    results = []
    while (job_id := queue.claim_next(window.db, "test-worker")) is not None:
        results.append((job_id, run_job(window.db, job_id)))
    window.jobs.poll()
    return results


def wait_for_job(qtbot, window, job_id: int, timeout: int = JOB_TIMEOUT_MS) -> str:
    """Wait until a worker process has finished job ``job_id``; return its final state."""
    def finished() -> bool:
        window.jobs.poll()
        status = window.jobs.status(job_id)
        return status is not None and not status.active

    qtbot.waitUntil(finished, timeout=timeout)
    return window.jobs.status(job_id).state


def settle_tasks(*controllers) -> None:
    """Let the controllers' background tasks finish and deliver their results, including
    tasks that a delivered result starts."""
    runners = [getattr(controller, name) for controller in controllers
               for name in ("tasks", "polls") if hasattr(controller, name)]
    while any(runner.busy for runner in runners):
        for runner in runners:
            runner.wait()
