"""The GUI as a process: SIGTERM closes it the way File > Quit does, worker included."""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

from app_data import copy_database, demo_template  # noqa: F401
from conftest import start_cli, wait_for
from db.session import open_database
from engine.jobs import queue

pytestmark = [pytest.mark.gui,
              pytest.mark.skipif(os.name != "posix", reason="sends SIGTERM, which only POSIX delivers")]

EXIT_TIMEOUT_S = 30


def _job_state(db_url: str, job_id: int) -> str:
    from db.models import Job

    db = open_database(db_url)
    try:
        with db.session() as session:
            return session.get(Job, job_id).state
    finally:
        db.dispose()


@pytest.fixture
def gui_env(monkeypatch, tmp_path):
    """Give the GUI process its own data, settings and config folders and no display."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("NEUROONCO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEUROONCO_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_sigterm_stops_gui_and_worker(gui_env, demo_template, tmp_path):
    db_url = copy_database(demo_template, tmp_path)
    db = open_database(db_url)
    try:
        # A queued job makes the window start its worker at once.
        job_id = queue.submit(db, "selftest.count", {"total": 1, "interval": 0})
    finally:
        db.dispose()
    gui = start_cli(db_url, "gui")
    workers: list[psutil.Process] = []
    try:
        workers = wait_for(lambda: psutil.Process(gui.pid).children(), timeout=120)
        wait_for(lambda: _job_state(db_url, job_id) == "succeeded", timeout=60)

        assert gui.poll() is None
        gui.send_signal(signal.SIGTERM)
        output, _ = gui.communicate(timeout=EXIT_TIMEOUT_S)
        _stopped, alive = psutil.wait_procs(workers, timeout=EXIT_TIMEOUT_S)

        assert gui.returncode == 0, output
        assert "received SIGTERM" in output
        assert "worker on exit: stopped" in output
        assert alive == []
    finally:
        if gui.poll() is None:
            gui.kill()
            gui.communicate()
        for worker in workers:
            if worker.is_running():
                worker.kill()
