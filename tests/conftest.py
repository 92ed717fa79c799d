"""Shared fixtures. Tests never touch the user's data folder, the network or a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "mm-neuroonco"
MRICRON_TEMPLATES = Path("/usr/share/mricron/templates")

# Set before anything imports Qt, transformers or the database layer.
if not os.environ.get("QT_QPA_PLATFORM"):  # unset or empty: no display in tests
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("NEUROONCO_DB_URL", None)


@pytest.fixture(autouse=True, scope="session")
def _isolated_data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("neuroonco-data")
    os.environ["NEUROONCO_DATA_DIR"] = str(path)
    yield path


def _require(path: Path, what: str) -> Path:
    if path.exists():
        return path
    message = f"{what} not found at {path}"
    if os.environ.get("NEUROONCO_REQUIRE_TEST_DATA") == "1":
        pytest.fail(message + " (NEUROONCO_REQUIRE_TEST_DATA=1)")
    pytest.skip(message)


@pytest.fixture
def shared_data() -> Path:
    """The public MM-NeuroOnco v1.0 files beside the repository (../shared)."""
    return _require(SHARED_DATA, "the MM-NeuroOnco benchmark files")


@pytest.fixture
def mricron() -> Path:
    """Colin27 and atlas label maps from Debian's mricron-data package."""
    return _require(MRICRON_TEMPLATES / "ch2.nii.gz", "Debian package mricron-data").parent


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'workbench.sqlite'}"


@pytest.fixture
def db(db_url):
    from db.session import open_database

    database = open_database(db_url)
    yield database
    database.dispose()


def cli_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["NEUROONCO_DB_URL"] = db_url
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(db_url: str, *args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run ``neuroonco ARGS`` in a fresh interpreter against the database at ``db_url``."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=REPO_ROOT, env=cli_env(db_url), capture_output=True, text=True, timeout=timeout,
        **kwargs,
    )


def start_cli(db_url: str, *args: str, **kwargs) -> subprocess.Popen:
    """Start ``neuroonco ARGS`` in the background (a worker, a server)."""
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=REPO_ROOT, env=cli_env(db_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, **kwargs,
    )


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns a true value (returned); fail after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %.0f s" % timeout)
