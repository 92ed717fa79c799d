"""The OpenAI-compatible HTTP backend (vLLM, llama.cpp server, Ollama, LM Studio...).

Requests go to ``POST {base_url}/chat/completions`` with images as ``data:`` URIs, so the
server never fetches anything. Letter probabilities come from the first token's
``top_logprobs`` when the server returns them; letters outside the top k count as 0.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from engine.errors import InvalidInputError, WorkbenchError
from engine.inference import letters as letter_math
from engine.inference.base import InferenceBackend
from engine.inference.images import DEFAULT_MAX_PIXELS, PreparedImage
from engine.inference.types import Mode, Request, Result

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 60.0


class OpenAIBackend(InferenceBackend):
    """A model served over the OpenAI chat-completions API.

    ``timeout_s`` bounds each read, ``connect_timeout_s`` each connection. A failed
    request (connection error, timeout, HTTP 408/409/425/429/5xx) is retried up to
    ``max_retries`` times, waiting ``backoff_s`` x 2^attempt seconds, or the server's
    ``Retry-After`` (at most 60 s). At most ``concurrency`` requests are in flight.
    ``top_logprobs`` is how many next tokens are asked for when letters are scored (the
    OpenAI API allows up to 20; some servers allow more). ``json_mode`` is how a JSON
    schema is sent: "json_schema" (OpenAI, vLLM) or "json_object" with a ``schema`` field
    (llama-cpp-python's server).
    """

    backend_name = "openai"

    def __init__(self, base_url: str, server_model: str, *, api_key: str | None = None,
                 timeout_s: float = 120.0, connect_timeout_s: float = 10.0, max_retries: int = 3,
                 backoff_s: float = 0.5, concurrency: int = 4, top_logprobs: int = 20,
                 json_mode: str = "json_schema", max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 model_info: dict[str, Any] | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"base URL '{base_url}' must start with http:// or https://")
        if not server_model:
            raise InvalidInputError("the server's model name is empty; pass the name the server lists "
                                    "under GET /models")
        super().__init__({"base_url": base_url, "server_model": server_model, **(model_info or {})},
                         max_pixels)
        self.base_url = base_url.rstrip("/")
        self.server_model = server_model
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.concurrency = max(1, int(concurrency))
        self.top_logprobs = max(1, int(top_logprobs))
        self.timeout_s = timeout_s
        if json_mode not in ("json_schema", "json_object"):
            raise InvalidInputError(f"json_mode '{json_mode}' is unknown; use json_schema or json_object")
        self.json_mode = json_mode
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers,
                                   timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s))
        self._logprobs_supported: bool | None = None
        self._lock = threading.Lock()
        # (attempt, failure) pairs already logged in the current batch: the parallel requests
        # of one batch fail alike when the server is down, so one warning is enough.
        self._retry_warnings: set[tuple[int, str]] = set()

    def options(self) -> dict[str, Any]:
        return {**super().options(), "base_url": self.base_url, "server_model": self.server_model,
                "top_logprobs": self.top_logprobs, "concurrency": self.concurrency}

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ requests

    def _run(self, requests: list[Request], mode: Mode) -> list[Result]:
        with self._lock:
            self._retry_warnings = set()
        if len(requests) == 1 or self.concurrency == 1:
            return [self._answer(request, mode) for request in requests]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda request: self._answer(request, mode), requests))

    def _answer(self, request: Request, mode: Mode) -> Result:
        images = self._images(request)
        result = self._result(request, images)
        wants_letters = bool(request.valid_letters) and self._logprobs_supported is not False
        body = self._body(request, images, mode, wants_letters)
        started = time.perf_counter()
        try:
            reply = self._post(body)
        except _Rejected as error:
            if not wants_letters:
                raise WorkbenchError(str(error)) from None
            # Some servers reject the logprobs fields outright; try once without them.
            self._mark_logprobs(False)
            if mode == "letters":
                raise self._no_logprobs_error(str(error)) from None
            reply = self._post(self._body(request, images, mode, False))
        elapsed = time.perf_counter() - started
        if mode == "letters":
            result.timings.prefill_s = elapsed
        else:
            result.timings.decode_s = elapsed  # the whole round trip; the API does not split it
        self._read_reply(result, request, reply, mode, wants_letters)
        return result

    def _body(self, request: Request, images: list[PreparedImage], mode: Mode, letters: bool) -> dict:
        settings = request.settings
        body: dict[str, Any] = {
            "model": self.server_model,
            "messages": _openai_messages(request, images),
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": 1 if mode == "letters" else settings.max_new_tokens,
            "seed": settings.seed,
            "stream": False,
        }
        if settings.stop and mode == "generate":
            body["stop"] = list(settings.stop)
        if settings.json_schema is not None and mode == "generate":
            if self.json_mode == "json_object":
                body["response_format"] = {"type": "json_object", "schema": settings.json_schema}
            else:
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": "output", "schema": settings.json_schema}}
        if letters:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        return body

    def _read_reply(self, result: Result, request: Request, reply: dict, mode: Mode, asked: bool) -> None:
        try:
            choice = reply["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise WorkbenchError(f"the server at {self.base_url} sent a reply without choices: "
                                 f"{str(reply)[:200]}") from None
        usage = reply.get("usage") or {}
        result.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        result.completion_tokens = int(usage.get("completion_tokens") or 0)
        result.finish_reason = choice.get("finish_reason")
        if mode == "generate":
            result.text = (choice.get("message") or {}).get("content") or ""
        if not request.valid_letters:
            return
        top = _first_token_top_logprobs(choice) if asked else None
        if top is None:
            if asked:
                self._mark_logprobs(False)
            if mode == "letters":
                raise self._no_logprobs_error("the reply has no logprobs")
            result.letter_note = "the server returned no logprobs"
            return
        self._mark_logprobs(True)
        probs, mass = letter_math.from_top_logprobs(top, request.valid_letters)
        result.letter_probs, result.letter_mass = probs, mass
        result.letter_method = f"top_logprobs:{self.top_logprobs}"
        if probs is None:
            result.letter_note = f"no valid letter among the top {self.top_logprobs} tokens"

    def _mark_logprobs(self, supported: bool) -> None:
        with self._lock:
            self._logprobs_supported = supported

    def _no_logprobs_error(self, detail: str) -> WorkbenchError:
        return WorkbenchError(f"letter probabilities are not supported by this server ({self.base_url}, "
                              f"model {self.server_model}): {detail}; score with generated text instead")

    # ------------------------------------------------------------------ HTTP

    def _post(self, body: dict) -> dict:
        attempt = 0
        while True:
            try:
                response = self.client.post("/chat/completions", json=body)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                failure = f"{type(error).__name__}: {error}"
                wait = self.backoff_s * 2 ** attempt
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        raise WorkbenchError(f"the server at {self.base_url} sent invalid JSON "
                                             f"(HTTP {response.status_code})") from None
                failure = f"HTTP {response.status_code}: {_error_text(response)}"
                if response.status_code not in RETRY_STATUS:
                    if response.status_code in (401, 403):
                        raise WorkbenchError(f"the server at {self.base_url} rejected the API key ({failure}); "
                                             "check the key in the environment variable or keyring")
                    raise _Rejected(f"the server at {self.base_url} rejected the request ({failure})")
                wait = _retry_after(response) or self.backoff_s * 2 ** attempt
            if attempt >= self.max_retries:
                raise WorkbenchError(f"the request to {self.base_url} failed after {attempt + 1} attempt(s): "
                                     f"{failure}; check that the server is running")
            attempt += 1
            with self._lock:
                repeated = (attempt, failure) in self._retry_warnings
                self._retry_warnings.add((attempt, failure))
            log.log(logging.DEBUG if repeated else logging.WARNING,
                    "request to %s failed (%s); retry %d of %d in %.1f s", self.base_url, failure,
                    attempt, self.max_retries, wait)
            time.sleep(wait)


class _Rejected(WorkbenchError):
    """A 4xx status from the server that a retry cannot fix."""


def _openai_messages(request: Request, images: list[PreparedImage]) -> list[dict[str, Any]]:
    pending = iter(images)
    messages = []
    for message in request.messages:
        content = message["content"]
        if isinstance(content, list):
            content = [{"type": "image_url", "image_url": {"url": next(pending).data_uri}}
                       if part.get("type") == "image" else dict(part) for part in content]
        messages.append({"role": message["role"], "content": content})
    return messages


def _first_token_top_logprobs(choice: dict) -> list[tuple[str, float]] | None:
    logprobs = choice.get("logprobs") or {}
    content = logprobs.get("content") or []
    if not content or not content[0].get("top_logprobs"):
        return None
    return [(entry["token"], float(entry["logprob"])) for entry in content[0]["top_logprobs"]]


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:200]
    return str(error or data.get("detail") or data)[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), MAX_RETRY_AFTER_S) if value else None
    except ValueError:
        return None
