"""What the command line logs: no library chatter at INFO, each warning once."""

from __future__ import annotations

import socket

import numpy as np
from PIL import Image

from benchmark_files import CLOSED_NAME, load_items
from conftest import run_cli


def test_worker_start_has_no_alembic_lines(db_url):
    result = run_cli(db_url, "worker", "--idle-exit", "0.2", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alembic" not in result.stderr
    assert "INFO db.session: upgrading database" in result.stderr


def _closed_port() -> int:
    """Return a 127.0.0.1 port with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_retry_warning_printed_once(db_url, shared_data, tmp_path):
    items = load_items(shared_data, CLOSED_NAME)
    first = min(items, key=lambda item: item["id"])
    image = tmp_path / "root" / first["image_path"]
    image.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(image, format="PNG")
    for command in (
        ["bench", "import", "--closed", str(shared_data / CLOSED_NAME), "--name", "mm"],
        ["bench", "set-data-root", "mm", str(tmp_path / "root")],
        ["models", "add", "remote", "--backend", "openai", "--base-url",
         f"http://127.0.0.1:{_closed_port()}/v1", "--server-model", "any"],
    ):
        prepared = run_cli(db_url, *command)
        assert prepared.returncode == 0, prepared.stderr

    result = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", "remote",
                     "--limit", "3")
    assert result.returncode == 1
    for attempt in (1, 2, 3):
        retries = [line for line in result.stderr.splitlines() if f"retry {attempt} of 3" in line]
        assert len(retries) == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: the request to http://127.0.0.1:")
