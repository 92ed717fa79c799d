"""Waiting for a training process that has recorded the end of its run before it starts again.

``process_alive`` recognises a run's process by the runner's module name and the run id on
its command line. A stand-in process carries both and sleeps as long as the test needs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from engine.errors import InvalidInputError
from engine.finetune.process import RUNNER_MODULE, process_alive, wait_for_exit
from engine.finetune.records import CANCELLED, RUNNING, RunInfo

RUN_ID = 7


def _run(status: str, pid: int | None) -> RunInfo:
    return RunInfo(id=RUN_ID, name="exiting", status=status, base_model="tiny", base_model_id=1, config={},
                   output_dir="/unused", pid=pid, hostname=None, step=3, total_steps=10, message=None,
                   cancel_requested=False, created_at=None, started_at=None, finished_at=None)


def _stand_in(seconds: float) -> subprocess.Popen:
    """Start a process that looks like run RUN_ID's training process for ``seconds``."""
    code = f"import time; time.sleep({seconds})"
    process = subprocess.Popen([sys.executable, "-c", code, RUNNER_MODULE, "--run-id", str(RUN_ID)])
    deadline = time.monotonic() + 30
    while not process_alive(process.pid, RUN_ID):
        assert time.monotonic() < deadline, "the stand-in process did not start"
        time.sleep(0.05)
    return process


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.skipif(os.name != "posix", reason="reads the stand-in's command line through psutil on POSIX")
def test_wait_for_exit_cases(processes):
    # No pid, or a process that is gone: nothing to wait for.
    wait_for_exit(_run(CANCELLED, None))

    # A cancelled run whose process is still exiting is waited for.
    exiting = _stand_in(2.0)
    processes.append(exiting)
    wait_for_exit(_run(CANCELLED, exiting.pid), timeout_s=60)
    assert not process_alive(exiting.pid, RUN_ID)

    # A running run's live process is not waited for.
    running = _stand_in(60.0)
    processes.append(running)
    with pytest.raises(InvalidInputError) as active:
        wait_for_exit(_run(RUNNING, running.pid), timeout_s=60)
    assert str(active.value) == f"run exiting is still running (pid {running.pid}); cancel it first"

    # A process that outlasts the wait is reported with the way out.
    with pytest.raises(InvalidInputError) as stuck:
        wait_for_exit(_run(CANCELLED, running.pid), timeout_s=1.0)
    assert str(stuck.value) == (f"run exiting is cancelled but its process {running.pid} is still alive "
                                "after 1 s; wait for it to exit or end it")
    assert process_alive(running.pid, RUN_ID)
