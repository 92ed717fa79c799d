"""pytest fixtures for the inference tests: tiny models, MRI test images, a local llama.cpp server.

Test modules import the fixtures they use (``from inference_fixtures import ...``).
Models are built once per pytest session under its temporary folder, or under
``$NEUROONCO_TINY_MODELS_DIR`` when that is set (to reuse them across runs).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tinymodels import CH2, TinyModels, mri_slice

MAX_NEW_TOKENS = 6


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    root = os.environ.get("NEUROONCO_TINY_MODELS_DIR") or tmp_path_factory.getbasetemp() / "tinymodels"
    return TinyModels(root)


@pytest.fixture(scope="session")
def mri_images() -> dict:
    """Two different axial slices of the Colin27 T1 template, 112 x 112 RGB."""
    if not CH2.exists():
        message = f"{CH2} not found (Debian package mricron-data)"
        if os.environ.get("NEUROONCO_REQUIRE_TEST_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return {"a": mri_slice(90), "b": mri_slice(60)}


@pytest.fixture(scope="session")
def gguf_pair(tiny_models) -> tuple[Path, Path]:
    """(text GGUF, mmproj GGUF) of the tiny Qwen2.5-VL model."""
    return tiny_models.gguf("qwen2_5_vl")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_llama_server(model: Path, mmproj: Path, chat_format: str = "qwen2.5-vl",
                       timeout_s: float = 120.0, n_ctx: int = 1024,
                       n_threads: int = 2) -> tuple[subprocess.Popen, str]:
    """Start llama-cpp-python's OpenAI-compatible server on 127.0.0.1; return (process, base URL)."""
    port = free_port()
    # libmtmd logs every image to stderr; a file never fills up and blocks the server as a pipe can.
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--clip_model_path", str(mmproj),
         "--chat_format", chat_format, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
         "--n_threads", str(n_threads), "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=log, text=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"llama_cpp.server did not answer on {base_url} within {timeout_s} s")


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def llama_server(gguf_pair):
    """Base URL of a llama-cpp-python server serving the tiny Qwen2.5-VL GGUF."""
    process, base_url = start_llama_server(*gguf_pair)
    yield base_url
    stop_process(process)
