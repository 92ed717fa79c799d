"""The OpenAI-compatible backend against llama-cpp-python's server, through a local proxy.

The proxy is a real HTTP server on 127.0.0.1 that forwards to the real llama.cpp server.
It can fail requests, delay them, drop logprobs from replies, and record headers and
bodies, so retries, timeouts, the concurrency limit and key handling are tested end to end.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import text

from engine.errors import WorkbenchError
from engine.inference import Request, load_template, open_backend
from engine.inference.api_keys import KEYRING_SERVICE, resolve_api_key, store_api_key
from engine.inference.openai_backend import OpenAIBackend
from engine.inference.registry import add_model
from keyring_fixtures import memory_keyring  # noqa: F401
from inference_fixtures import free_port, gguf_pair, llama_server, mri_images, tiny_models  # noqa: F401

pytestmark = pytest.mark.slow

QUESTION = {"question": "Is the slice abnormal?", "options": {"A": "Abnormal", "B": "Healthy"}}


class Proxy:
    """A forwarding proxy whose failures are set per test."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removesuffix("/v1")
        self.fail_first = 0
        self.fail_status = 503
        self.always_status: int | None = None
        self.delay_s = 0.0
        self.strip_logprobs = False
        self.posts: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # noqa: ANN002 - silence the default access log
                pass

            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with proxy._lock:
                    proxy.posts.append({"headers": dict(self.headers), "body": json.loads(body)})
                    number = len(proxy.posts)
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                try:
                    time.sleep(proxy.delay_s)
                    if proxy.always_status or number <= proxy.fail_first:
                        status = proxy.always_status or proxy.fail_status
                        self._reply(status, {"error": {"message": f"proxy answered {status}"}})
                        return
                    upstream = httpx.post(proxy.upstream + self.path, content=body, timeout=60,
                                          headers={"Content-Type": "application/json"})
                    reply = upstream.json()
                    if proxy.strip_logprobs:
                        for choice in reply.get("choices", []):
                            choice.pop("logprobs", None)
                    self._reply(upstream.status_code, reply)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def proxy(llama_server):  # noqa: F811
    instance = Proxy(llama_server)
    yield instance
    instance.close()


def letter_request(image):
    return load_template("closed-letter").request(image=image, **QUESTION)


def test_failed_requests_are_retried(proxy, mri_images):  # noqa: F811
    proxy.fail_first = 2
    with OpenAIBackend(proxy.url, "tiny", max_retries=3, backoff_s=0.01, top_logprobs=500) as backend:
        result = backend.letter_probabilities([letter_request(mri_images["a"])])[0]

    assert len(proxy.posts) == 3
    assert set(result.letter_probs) == {"A", "B"}


def test_retries_give_up_with_one_line_error(proxy, mri_images):  # noqa: F811
    proxy.always_status = 503
    with OpenAIBackend(proxy.url, "tiny", max_retries=2, backoff_s=0.01) as backend:
        with pytest.raises(WorkbenchError, match="failed after 3 attempt") as error:
            backend.generate([letter_request(mri_images["a"])])

    assert len(proxy.posts) == 3
    assert "HTTP 503" in str(error.value)
    assert "\n" not in str(error.value)


def test_client_error_is_not_retried(proxy, mri_images):  # noqa: F811
    proxy.always_status = 400
    with OpenAIBackend(proxy.url, "tiny", max_retries=3, backoff_s=0.01) as backend:
        with pytest.raises(WorkbenchError, match="rejected the request"):
            backend.generate([load_template("open").request(image=mri_images["a"], question="Describe.")])

    assert len(proxy.posts) == 1


def test_read_timeout_is_reported(proxy, mri_images):  # noqa: F811
    proxy.delay_s = 1.5
    with OpenAIBackend(proxy.url, "tiny", timeout_s=0.3, max_retries=0) as backend:
        with pytest.raises(WorkbenchError, match="Timeout"):
            backend.generate([letter_request(mri_images["a"])])


def test_unreachable_server_is_reported():
    with OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "tiny", max_retries=1, backoff_s=0.01) as backend:
        with pytest.raises(WorkbenchError, match="check that the server is running"):
            backend.generate([Request(messages=({"role": "user", "content": "Hello"},))])


def test_server_without_logprobs_is_named(proxy, mri_images):  # noqa: F811
    proxy.strip_logprobs = True
    with OpenAIBackend(proxy.url, "tiny", backoff_s=0.01) as backend:
        with pytest.raises(WorkbenchError, match="not supported by this server"):
            backend.letter_probabilities([letter_request(mri_images["a"])])
        generated = backend.generate([letter_request(mri_images["a"])])[0]

    assert isinstance(generated.text, str)
    assert generated.letter_probs is None
    assert "no logprobs" in generated.letter_note


def test_images_travel_as_data_uris(proxy, mri_images):  # noqa: F811
    with OpenAIBackend(proxy.url, "tiny") as backend:
        backend.generate([letter_request(mri_images["a"])])

    parts = proxy.posts[0]["body"]["messages"][-1]["content"]
    urls = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
    assert len(urls) == 1
    assert urls[0].startswith("data:image/png;base64,")
    assert proxy.posts[0]["body"]["temperature"] == 0.0


def test_concurrency_limit_holds(proxy, mri_images):  # noqa: F811
    proxy.delay_s = 0.2
    requests = [letter_request(mri_images["a"]) for _ in range(6)]
    with OpenAIBackend(proxy.url, "tiny", concurrency=2) as backend:
        results = backend.generate(requests)

    assert len(results) == 6
    assert proxy.max_in_flight == 2


def test_api_key_from_environment_or_keyring(proxy, db, monkeypatch, memory_keyring, mri_images):  # noqa: F811
    add_model(db, "env-model", "openai", base_url=proxy.url, server_model="tiny", api_key_env="TINY_KEY")
    add_model(db, "keyring-model", "openai", base_url=proxy.url, server_model="tiny")
    monkeypatch.setenv("TINY_KEY", "key-from-env")
    store_api_key("keyring-model", "key-from-keyring")

    for name in ("env-model", "keyring-model"):
        with open_backend(name, db) as backend:
            backend.generate([letter_request(mri_images["a"])])

    headers = [post["headers"].get("Authorization") for post in proxy.posts]
    assert headers == ["Bearer key-from-env", "Bearer key-from-keyring"]
    assert memory_keyring.passwords == {(KEYRING_SERVICE, "keyring-model"): "key-from-keyring"}

    monkeypatch.delenv("TINY_KEY")
    with pytest.raises(WorkbenchError, match="TINY_KEY"):
        resolve_api_key("env-model", "TINY_KEY")

    # No column of the database contains a key.
    with db.session() as session:
        rows = session.execute(text("SELECT * FROM model")).all()
    assert not any("key-from" in str(value) for row in rows for value in row)
