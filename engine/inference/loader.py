"""Opening a backend for a registered model."""

from __future__ import annotations

from typing import Any

from db.session import Database
from engine.errors import InvalidInputError
from engine.inference.api_keys import resolve_api_key
from engine.inference.base import InferenceBackend
from engine.inference.images import DEFAULT_MAX_PIXELS
from engine.inference.registry import BACKEND_SETTINGS, COMMON_SETTINGS, ModelRecord, get_model


def model_info(record: ModelRecord) -> dict[str, Any]:
    """Return the model fields that every result carries and provenance records."""
    return {"name": record.name, "backend": record.backend, "family": record.family,
            "quantization": record.quantization, "sha256": record.sha256,
            "revision": record.revision, "licence": record.licence}


def open_backend(model: ModelRecord | str, db: Database | None = None, *, adapter: str | None = None,
                 **overrides: Any) -> InferenceBackend:
    """Load the backend of ``model`` (a record, or a name looked up in ``db``).

    ``overrides`` replace the model's stored settings for this session, for example
    ``device="cpu"`` or ``n_gpu_layers=-1``. ``adapter`` loads and activates one of the
    model's registered adapters (transformers only).
    """
    record = model if isinstance(model, ModelRecord) else get_model(_require(db), model)
    settings = {**record.settings, **overrides}
    settings.pop("file_hashes", None)
    settings.pop("generation", None)
    unknown = sorted(set(settings) - set(BACKEND_SETTINGS[record.backend]) - set(COMMON_SETTINGS))
    if unknown:
        raise InvalidInputError(f"unknown setting(s) {', '.join(unknown)} for backend {record.backend}")
    max_pixels = settings.pop("max_pixels", DEFAULT_MAX_PIXELS)
    info = model_info(record)

    if record.backend == "transformers":
        from engine.inference.hf_backend import TransformersBackend

        backend = TransformersBackend(record.path, max_pixels=max_pixels, model_info=info, **settings)
        if adapter is not None:
            entry = record.adapter(adapter)
            backend.load_adapter(entry.name, entry.path, sha256=entry.sha256)
        return backend
    if adapter is not None:
        raise InvalidInputError(f"model '{record.name}' uses {record.backend}; adapters load on "
                                "transformers models only")
    if record.backend == "llama.cpp":
        from engine.inference.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(record.path, record.mmproj_path, max_pixels=max_pixels, model_info=info,
                               **settings)
    from engine.inference.openai_backend import OpenAIBackend

    key = resolve_api_key(record.name, record.api_key_env)
    return OpenAIBackend(record.base_url, record.server_model, api_key=key, max_pixels=max_pixels,
                         model_info=info, **settings)


def generation_defaults(record: ModelRecord) -> dict[str, Any]:
    """Return the model's stored generation defaults (setting ``generation``) for GenerationSettings."""
    return dict(record.settings.get("generation") or {})


def _require(db: Database | None) -> Database:
    if db is None:
        raise InvalidInputError("pass the database to look the model up by name")
    return db
