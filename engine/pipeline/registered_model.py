"""Running pipeline requests on a model from the registry, through the inference engine.

A :class:`RegisteredModel` loads its backend on the first request and keeps it until
:meth:`RegisteredModel.close`, so a stage loads each model once however many samples it
sends. Generation settings are the prompt's, overridden by the model's stored
``generation`` settings for the keys that those set (for example a larger
``max_new_tokens`` for a model that reasons before it answers). The stage's JSON schema is
always sent: llama.cpp turns it into a grammar, OpenAI-compatible servers receive it as
``response_format``, and transformers ignores it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from db.session import Database
from engine.errors import NotFoundError, WorkbenchError
from engine.inference import GenerationSettings, InferenceBackend, Request, open_backend
from engine.inference.loader import generation_defaults
from engine.inference.provenance import build_provenance
from engine.inference.registry import get_model
from engine.pipeline.model_calls import ModelCallError, ModelRequest, ModelUnavailableError

log = logging.getLogger(__name__)


class RegisteredModel:
    """A ModelCall that runs requests on registered model ``name``.

    Raises ModelUnavailableError at once when the model is not registered, and on the
    first request when its backend cannot be loaded or the settings are invalid. A
    request that fails on a loaded model raises ModelCallError. Use it as a context
    manager or call :meth:`close`.
    """

    def __init__(self, db: Database, name: str, role: str) -> None:
        try:
            self.record = get_model(db, name)
        except NotFoundError:
            raise ModelUnavailableError(
                f"model '{name}' for {role} is not registered; add it with 'neuroonco models "
                "add' (see 'neuroonco models list') or pass replay:<file.jsonl>") from None
        self.role = role
        self.loads = 0
        self.requests = 0
        self.failed_requests = 0
        self._backend: InferenceBackend | None = None
        self._details: dict[str, Any] = {}  # from the first reply: settings, options, versions

    def __call__(self, request: ModelRequest) -> str:
        settings = self._settings(request)
        backend = self._open()
        inference_request = build_inference_request(request, settings)
        try:
            if request.image is not None:
                # answer_many lets llama.cpp keep the system prompt in its KV cache from one
                # sample to the next. Its results equal those of generate, which the inference
                # tests check.
                result = backend.answer_many(request.image, [inference_request],
                                             mode="generate")[0]
            else:
                result = backend.generate([inference_request])[0]
        except (WorkbenchError, RuntimeError, ValueError, OSError) as error:
            # RuntimeError, ValueError and OSError come from torch, llama.cpp and sockets.
            self.failed_requests += 1
            raise ModelCallError(f"model '{self.record.name}' failed on {request.key}: "
                                 f"{error}") from None
        self.requests += 1
        if not self._details:
            self._details = _run_details(build_provenance(result))
        return result.text or ""

    def provenance(self) -> dict[str, Any]:
        """Describe what ran: the model's identity, backend, settings and request counts."""
        record = self.record
        return {
            "model": record.name, "backend": record.backend, "family": record.family,
            "quantization": record.quantization, "sha256": record.sha256,
            "file_hashes": record.settings.get("file_hashes"), "revision": record.revision,
            **{key: value for key, value in (("path", record.path),
                                             ("mmproj_path", record.mmproj_path),
                                             ("base_url", record.base_url),
                                             ("server_model", record.server_model))
               if value is not None},
            **self._details,
            "loads": self.loads, "requests": self.requests,
            "failed_requests": self.failed_requests,
        }

    def close(self) -> None:
        """Free the loaded backend, if any; a later request loads it again."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            log.info("model %s for %s closed after %d requests", self.record.name, self.role,
                     self.requests)

    def __enter__(self) -> RegisteredModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _settings(self, request: ModelRequest) -> GenerationSettings:
        values = {**request.settings, **generation_defaults(self.record),
                  "json_schema": request.json_schema}
        try:
            return GenerationSettings.from_dict(values)
        except WorkbenchError as error:
            raise ModelUnavailableError(
                f"generation settings for model '{self.record.name}' with prompt "
                f"{request.prompt_name} are invalid: {error}") from None

    def _open(self) -> InferenceBackend:
        if self._backend is not None:
            return self._backend
        record = self.record
        started = time.perf_counter()
        try:
            self._backend = open_backend(record)
        except (WorkbenchError, ImportError, RuntimeError, ValueError, OSError) as error:
            raise ModelUnavailableError(f"model '{record.name}' ({record.backend}) for "
                                        f"{self.role} could not be loaded: {error}") from None
        self.loads += 1
        log.info("model %s (%s) loaded for %s in %.1f s", record.name, record.backend,
                 self.role, time.perf_counter() - started)
        return self._backend


def build_inference_request(request: ModelRequest, settings: GenerationSettings) -> Request:
    """Return the inference Request of ``request``: a system message and a user turn.

    The user turn is one image part and the user text when the request has an image,
    else the text alone. The image itself is passed to the backend separately.
    """
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    content: list[dict[str, Any]] = [{"type": "image"}] if request.image is not None else []
    content.append({"type": "text", "text": request.user})
    messages.append({"role": "user", "content": content})
    template_id, version = _template(request.prompt_name)
    return Request(messages=tuple(messages), settings=settings, template_id=template_id,
                   template_version=version, key=request.key)


def _template(prompt_name: str | None) -> tuple[str | None, str | None]:
    """Split a prompt name ``<id>.v<version>`` into (id, version)."""
    if not prompt_name:
        return None, None
    template_id, separator, version = prompt_name.rpartition(".v")
    if not separator or not template_id:
        return prompt_name, None
    return template_id, version


def _run_details(provenance: dict[str, Any]) -> dict[str, Any]:
    """Return the parts of one reply's provenance that apply to every request of a stage.

    The JSON schema is stored as its SHA-256, because the full schema would repeat in
    every stage's stats.
    """
    settings = dict(provenance["settings"])
    schema = settings.pop("json_schema", None)
    if schema is not None:
        settings["json_schema_sha256"] = hashlib.sha256(
            json.dumps(schema, sort_keys=True).encode()).hexdigest()
    return {"prompt": provenance["template"], "settings": settings,
            "backend_options": provenance["backend_options"],
            "versions": provenance["versions"]}
