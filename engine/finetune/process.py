"""Starting a run's training process detached from the caller, and finding it again.

The process runs ``python -m engine.finetune.runner --run-id N`` (through ``accelerate
launch --multi_gpu --num_processes N`` for several GPUs) in a new session, so closing the
GUI or its terminal does not stop it. Its output goes to ``train.log`` in the run's output
folder. The database URL reaches it in ``NEUROONCO_DB_URL``, never on the command line,
where other users could read a password.

A run counts as alive while a process with its stored pid exists, is not a zombie, and has
``engine.finetune.runner`` and the run id on its command line (so a reused pid is not
mistaken for the run). Runs on another host cannot be checked and are left as they are.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from sqlalchemy import select

from db.models import TrainingRun, utcnow
from db.session import Database
from engine.errors import InvalidInputError
from engine.finetune.runs import ACTIVE, FAILED, RunInfo, get_run, set_process

log = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()
RUNNER_MODULE = "engine.finetune.runner"
REPO_ROOT = Path(__file__).resolve().parents[2]
# A queued run whose process never wrote a pid is given up after this long.
START_GRACE_S = 120.0
# A process that has recorded the end of its run still has to exit, which takes seconds
# once torch is loaded. A resume waits this long for it.
EXIT_GRACE_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def runner_command(run_id: int, gpus: int, port: int | None = None) -> list[str]:
    """Return the argv that trains run ``run_id`` (with accelerate for several processes)."""
    runner = ["-m", RUNNER_MODULE, "--run-id", str(run_id)]
    if gpus <= 1:
        return [sys.executable, *runner]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(gpus), "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--main_process_port", str(port or free_port()), *runner]


def start_run_process(db: Database, run: RunInfo) -> int:
    """Start the training process of ``run`` detached; record and return its pid."""
    output = Path(run.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    command = runner_command(run.id, run.settings.gpus)
    env = dict(os.environ)
    env["NEUROONCO_DB_URL"] = db.engine.url.render_as_string(hide_password=False)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    with open(run.log_path, "ab") as log_file:
        log_file.write(f"--- starting: {' '.join(command)}\n".encode())
        log_file.flush()
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=str(REPO_ROOT), **kwargs)
    set_process(db, run.id, process.pid, HOSTNAME)
    log.info("started training run %s as pid %s", run.name, process.pid)
    return process.pid


def process_alive(pid: int | None, run_id: int) -> bool:
    """True if ``pid`` is this host's live training process of run ``run_id``."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = process.cmdline()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    return RUNNER_MODULE in command and str(run_id) in command


def wait_for_exit(run: RunInfo, timeout_s: float = EXIT_GRACE_S) -> None:
    """Return once the process of ``run`` has exited, so the run can start again.

    A run that is no longer queued or running has recorded its end and its process is only
    exiting, so this waits up to ``timeout_s`` for it. Raises InvalidInputError while the
    process of a queued or running run is alive, or when an exiting one outlasts the wait.
    """
    if not process_alive(run.pid, run.id):
        return
    if run.status in ACTIVE:
        raise InvalidInputError(f"run {run.name} is still {run.status} (pid {run.pid}); cancel it first")
    deadline = time.monotonic() + timeout_s
    while process_alive(run.pid, run.id):
        if time.monotonic() > deadline:
            raise InvalidInputError(f"run {run.name} is {run.status} but its process {run.pid} is still "
                                    f"alive after {timeout_s:.0f} s; wait for it to exit or end it")
        time.sleep(0.2)


def recover_dead_runs(db: Database) -> list[int]:
    """Mark active runs of this host whose process died as failed; return their ids."""
    dead = []
    now = utcnow()
    with db.session(write=True) as session:
        for run in session.scalars(select(TrainingRun).where(TrainingRun.status.in_(ACTIVE))):
            if run.hostname is not None and run.hostname != HOSTNAME:
                continue
            if run.pid is None:
                created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=now.tzinfo)
                if (now - created).total_seconds() < START_GRACE_S:
                    continue
            elif process_alive(run.pid, run.id):
                continue
            run.status = FAILED
            run.finished_at = now
            run.message = (f"the training process (pid {run.pid}) ended without finishing the run; "
                           f"resume it with 'neuroonco finetune resume {run.name}'")
            dead.append(run.id)
    return dead


def reattach(db: Database) -> list[RunInfo]:
    """Return the runs whose process is alive, after marking dead ones as failed.

    The GUI calls this when it starts, then follows the returned runs with
    :func:`engine.finetune.monitoring.read_snapshot`.
    """
    dead = recover_dead_runs(db)
    if dead:
        log.warning("marked training runs %s failed: their process had died", dead)
    with db.session() as session:
        ids = list(session.scalars(select(TrainingRun.id).where(TrainingRun.status.in_(ACTIVE))
                                   .order_by(TrainingRun.id)))
    return [get_run(db, run_id) for run_id in ids]
