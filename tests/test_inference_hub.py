"""Downloads from the Hugging Face hub against a local stand-in of the hub on 127.0.0.1.

huggingface_hub reads HF_ENDPOINT when it is imported, so every download runs in a CLI or
worker process started with the stand-in's address in its environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import REPO_ROOT, cli_env, run_cli, start_cli, wait_for
from engine.inference import registry
from engine.jobs import queue
from fake_hub import FakeHub

pytestmark = pytest.mark.slow

REPO = "lab/tiny-vlm"
MIB = 2**20
# huggingface_hub (2.x) writes a download in 10 MiB chunks, so a range request can only
# start after one: the weights are larger than two chunks and the test cut falls past the first.
WEIGHT_FLOATS = 6_500_000
CUT_AT = 15 * MIB


@pytest.fixture(scope="module")
def repo_files(tmp_path_factory) -> dict[str, bytes]:
    """A model repository: llava config, a 26 MB safetensors file of random weights, a processor config.

    Downloads go smallest file first, so this order: config.json, preprocessor_config.json, weights.
    """
    from safetensors.numpy import save

    weights = np.random.default_rng(7).standard_normal(WEIGHT_FLOATS, dtype=np.float32)
    processor = {"image_processor_type": "CLIPImageProcessor", "image_mean": [0.481, 0.458, 0.408],
                 "image_std": [0.269, 0.261, 0.276], "size": {"shortest_edge": 336}}
    files = {
        "config.json": json.dumps({"model_type": "llava", "torch_dtype": "float32"}).encode(),
        "model.safetensors": save({"weight": weights}),
        "preprocessor_config.json": json.dumps(processor).encode(),
    }
    assert len(files["config.json"]) < len(files["preprocessor_config.json"]) < len(files["model.safetensors"])
    return files


@pytest.fixture
def hub(repo_files, monkeypatch, tmp_path):
    with FakeHub(REPO, repo_files) as fake:
        for variable, value in {"HF_ENDPOINT": fake.url, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
                                "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1",
                                "HF_HUB_DOWNLOAD_TIMEOUT": "60"}.items():
            monkeypatch.setenv(variable, value)
        yield fake


def snapshot(cache, hub: FakeHub):
    return cache / ("models--" + REPO.replace("/", "--")) / "snapshots" / hub.commit


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_download_registers_snapshot(db_url, db, hub, repo_files, tmp_path):
    cache = tmp_path / "cache"
    result = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--cache-dir", str(cache))

    assert result.returncode == 0, result.stderr
    assert hub.commit in result.stdout
    folder = snapshot(cache, hub)
    for name, content in repo_files.items():
        assert (folder / name).read_bytes() == content, name
    record = registry.get_model(db, "tiny")
    assert record.backend == "transformers"
    assert record.path == str(folder)
    assert record.revision == hub.commit
    assert record.family == "llava"
    assert record.sha256 == sha256(repo_files["model.safetensors"])

    added = run_cli(db_url, "models", "add", "tiny-copy", "--backend", "transformers", "--path", str(folder))
    assert added.returncode == 0, added.stderr
    assert registry.get_model(db, "tiny-copy").sha256 == record.sha256


def test_second_download_fetches_nothing(db_url, db, hub, repo_files, tmp_path):
    cache = tmp_path / "cache"
    assert run_cli(db_url, "models", "download", REPO, "--name", "first", "--cache-dir", str(cache)).returncode == 0
    hub.clear_log()

    again = run_cli(db_url, "models", "download", REPO, "--name", "second", "--cache-dir", str(cache))

    assert again.returncode == 0, again.stderr
    for name in repo_files:
        assert hub.gets(name) == [], name
    assert registry.get_model(db, "second").path == registry.get_model(db, "first").path


def test_taken_name_rejected_before_download(db_url, db, hub, tmp_path):
    registry.add_model(db, "tiny", "openai", base_url="http://127.0.0.1:9/v1", server_model="m")

    result = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--cache-dir", str(tmp_path / "cache"))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: a model named 'tiny' is already registered; remove it first "
        "('neuroonco models remove tiny') or choose another name"]
    assert hub.requests == []


def test_gguf_name_matching_nothing(db_url, db, hub, repo_files, tmp_path):
    result = run_cli(db_url, "models", "download", REPO, "--name", "q4", "--gguf", "model-Q4_K_M.gguf",
                     "--cache-dir", str(tmp_path / "cache"))

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: no file of {REPO} matches model-Q4_K_M.gguf")
    for name in repo_files:
        assert hub.gets(name) == [], name
    assert registry.list_models(db) == []


def test_dropped_connection_resumes_with_range(db_url, db, hub, repo_files, tmp_path):
    hub.drop_after["model.safetensors"] = CUT_AT
    cache = tmp_path / "cache"

    result = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--cache-dir", str(cache))

    assert result.returncode == 0, result.stderr
    # huggingface_hub's retry note is logged at info level, so a recovered drop prints nothing.
    assert result.stderr == ""
    first, retry = hub.gets("model.safetensors")
    assert first.range is None
    start = int(re.fullmatch(r"bytes=(\d+)-", retry.range).group(1))
    assert 0 < start <= CUT_AT
    assert (snapshot(cache, hub) / "model.safetensors").read_bytes() == repo_files["model.safetensors"]
    assert registry.get_model(db, "tiny").sha256 == sha256(repo_files["model.safetensors"])


def test_interrupted_download_continues_on_rerun(db_url, db, hub, repo_files, tmp_path):
    hub.drop_after["model.safetensors"] = CUT_AT
    hub.down_after_drop = True
    cache = tmp_path / "cache"

    failed = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--cache-dir", str(cache))

    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: downloading model.safetensors of {REPO} stopped (")
    assert "run the same command again" in lines[0]
    assert registry.list_models(db) == []
    assert not (snapshot(cache, hub) / "model.safetensors").exists()

    hub.down = False
    hub.clear_log()
    again = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--cache-dir", str(cache))

    assert again.returncode == 0, again.stderr
    # The small files were complete before the weights started (smallest first).
    assert hub.gets("config.json") == []
    assert hub.gets("preprocessor_config.json") == []
    # huggingface_hub 2.x deletes a partly written file, so the interrupted one starts over.
    assert [request.range for request in hub.gets("model.safetensors")] == [None]
    assert (snapshot(cache, hub) / "model.safetensors").read_bytes() == repo_files["model.safetensors"]
    assert registry.get_model(db, "tiny").revision == hub.commit


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_bar_reaches_total(db_url, hub, repo_files, tmp_path):
    import pty

    total_mb = f"{sum(len(content) for content in repo_files.values()) / 1e6:.1f}"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "models", "download", REPO, "--name", "tiny",
         "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO_ROOT, env=cli_env(db_url), stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    stdout = process.stdout.read().decode()
    assert process.wait(timeout=120) == 0
    os.close(controller)

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode(errors="replace"))
    frames = [frame.strip() for frame in re.split(r"[\r\n]", text) if frame.startswith("downloading")]
    assert frames, text
    assert f"{total_mb}/{total_mb} MB" in frames[-1]
    assert stdout.startswith("registered tiny from")
    assert " MB" not in stdout


def test_download_job_counts_bytes(db_url, db, hub, repo_files, tmp_path):
    submitted = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--background",
                        "--cache-dir", str(tmp_path / "cache"))
    assert submitted.returncode == 0, submitted.stderr
    job_id = int(submitted.stdout)

    worker = run_cli(db_url, "worker", "--idle-exit", "2")

    assert worker.returncode == 0, worker.stdout + worker.stderr
    jobs = {job["kind"]: job for job in json.loads(run_cli(db_url, "jobs", "list", "--json").stdout)}
    download, hashing = jobs["models.download"], jobs["models.hash"]
    assert download["id"] == job_id
    assert (download["state"], hashing["state"]) == ("succeeded", "succeeded")
    total = sum(len(content) for content in repo_files.values())
    assert download["progress"] == [total, total]
    assert queue.get_job(db, job_id).result["commit"] == hub.commit
    assert queue.get_job(db, job_id).result["hash_job"] == hashing["id"]
    record = registry.get_model(db, "tiny")
    assert record.revision == hub.commit
    assert record.sha256 == sha256(repo_files["model.safetensors"])


def test_download_job_cancel_and_resume(db_url, db, hub, repo_files, tmp_path):
    release = hub.hold.setdefault("preprocessor_config.json", threading.Event())
    submitted = run_cli(db_url, "models", "download", REPO, "--name", "tiny", "--background",
                        "--cache-dir", str(tmp_path / "cache"))
    job_id = int(submitted.stdout)
    worker = start_cli(db_url, "worker", "--idle-exit", "2")
    try:
        wait_for(lambda: hub.gets("preprocessor_config.json"), timeout=120)
        assert run_cli(db_url, "jobs", "cancel", str(job_id)).returncode == 0
        release.set()
        wait_for(lambda: queue.get_job(db, job_id).state == "cancelled", timeout=120)
    finally:
        release.set()
        worker.wait(timeout=120)

    job = queue.get_job(db, job_id)
    assert job.progress_done < job.progress_total == sum(len(content) for content in repo_files.values())
    assert hub.gets("model.safetensors") == []
    assert registry.list_models(db) == []

    hub.clear_log()
    assert run_cli(db_url, "jobs", "resume", str(job_id)).returncode == 0
    resumed = run_cli(db_url, "worker", "--idle-exit", "2")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert queue.get_job(db, job_id).state == "succeeded"
    assert hub.gets("config.json") == []
    assert len(hub.gets("model.safetensors")) == 1
    assert registry.get_model(db, "tiny").sha256 == sha256(repo_files["model.safetensors"])
