"""The model registry: models and their adapters stored in the ``model`` and ``adapter`` tables.

A model is a local transformers folder, a GGUF file with an optional mmproj, or an
OpenAI-compatible server. Adding a local model checks its files, detects family and
quantization, and (unless ``compute_hash`` is False) hashes the weights before one write transaction,
so a failed add leaves no row. API keys are never stored; see :mod:`engine.inference.api_keys`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from db.models import Adapter, Model
from db.session import Database
from engine.errors import InvalidInputError, NotFoundError
from engine.inference.gguf_metadata import read_gguf_info
from engine.inference.model_files import (detect_gguf_family, detect_transformers, hash_model)
from engine.progress import Progress

BACKENDS = ("transformers", "llama.cpp", "openai")
COMMON_SETTINGS = ("max_pixels", "generation")
BACKEND_SETTINGS = {
    "transformers": ("device", "dtype", "quantization", "trust_remote_code", "batch_size", "reuse_prefix"),
    "llama.cpp": ("chat_handler", "n_ctx", "n_gpu_layers", "n_threads", "n_batch", "reuse_prefix",
                  "chat_template_kwargs", "verbose"),
    "openai": ("timeout_s", "connect_timeout_s", "max_retries", "backoff_s", "concurrency",
               "top_logprobs", "json_mode"),
}
# Written by the registry itself, never passed to a backend.
RECORD_SETTINGS = ("file_hashes",)
RESERVED_PREFIX = "baseline:"


@dataclass(frozen=True)
class AdapterRecord:
    id: int
    name: str
    path: str
    sha256: str | None


@dataclass(frozen=True)
class ModelRecord:
    """A registered model as plain data (safe to use after the session closed)."""

    id: int
    name: str
    backend: str
    path: str | None
    mmproj_path: str | None
    family: str | None
    quantization: str | None
    sha256: str | None
    revision: str | None
    base_url: str | None
    server_model: str | None
    api_key_env: str | None
    settings: dict[str, Any]
    licence: str | None
    adapters: tuple[AdapterRecord, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["adapters"] = [asdict(adapter) for adapter in self.adapters]
        return values

    def adapter(self, name: str) -> AdapterRecord:
        for adapter in self.adapters:
            if adapter.name == name:
                return adapter
        known = ", ".join(a.name for a in self.adapters) or "none"
        raise NotFoundError(f"model '{self.name}' has no adapter '{name}'; its adapters: {known}")


def _record(model: Model) -> ModelRecord:
    return ModelRecord(
        id=model.id, name=model.name, backend=model.backend, path=model.path,
        mmproj_path=model.mmproj_path, family=model.family, quantization=model.quantization,
        sha256=model.sha256, revision=model.revision, base_url=model.base_url,
        server_model=model.server_model, api_key_env=model.api_key_env,
        settings=dict(model.settings or {}), licence=model.licence,
        adapters=tuple(AdapterRecord(a.id, a.name, a.path, a.sha256)
                       for a in sorted(model.adapters, key=lambda a: a.name)),
    )


def check_settings(backend: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Raise InvalidInputError for a setting the backend does not know."""
    known = BACKEND_SETTINGS[backend] + COMMON_SETTINGS + RECORD_SETTINGS
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise InvalidInputError(f"unknown setting(s) {', '.join(unknown)} for backend {backend}; "
                                f"known: {', '.join(BACKEND_SETTINGS[backend] + COMMON_SETTINGS)}")
    return dict(settings)


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInputError("the model name is empty")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidInputError(f"model names starting with '{RESERVED_PREFIX}' are reserved for the "
                                "built-in baselines; choose another name")
    return name


def check_new_name(db: Database, name: str | None) -> str:
    """Return ``name`` stripped, or raise InvalidInputError if it is empty, reserved or already registered.

    Lets a long step before :func:`add_model` (a download) fail at once; add_model checks again.
    """
    name = _clean_name(name)
    with db.session() as session:
        if session.scalar(select(Model.id).where(Model.name == name)) is not None:
            raise InvalidInputError(f"a model named '{name}' is already registered; remove it first "
                                    f"('neuroonco models remove {name}') or choose another name")
    return name


def add_model(db: Database, name: str, backend: str, *, path: str | Path | None = None,
              mmproj_path: str | Path | None = None, base_url: str | None = None,
              server_model: str | None = None, api_key_env: str | None = None,
              family: str | None = None, revision: str | None = None, licence: str | None = None,
              settings: dict[str, Any] | None = None, compute_hash: bool = True,
              progress: Progress | None = None) -> ModelRecord:
    """Register a model and return it.

    ``compute_hash`` False leaves ``sha256`` empty for a ``models.hash`` job to fill in.
    Raises InvalidInputError for a bad name, backend, path or setting.
    """
    name = _clean_name(name)
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend '{backend}' is unknown; use one of {', '.join(BACKENDS)}")
    values: dict[str, Any] = {"settings": check_settings(backend, settings or {}), "family": family,
                              "revision": revision, "licence": licence}

    if backend == "openai":
        values.update(_http_values(base_url, server_model, api_key_env, path, mmproj_path))
    else:
        if base_url or server_model or api_key_env:
            raise InvalidInputError("--base-url, --server-model and --api-key-env are for the openai backend only")
        values.update(_local_values(backend, path, mmproj_path, family))
        if compute_hash:
            values["sha256"], values["settings"]["file_hashes"] = hash_model(
                values["path"], values["mmproj_path"], progress)

    with db.session(write=True) as session:
        if session.scalar(select(Model.id).where(Model.name == name)) is not None:
            raise InvalidInputError(f"a model named '{name}' is already registered; remove it first "
                                    f"('neuroonco models remove {name}') or choose another name")
        model = Model(name=name, backend=backend, **values)
        session.add(model)
        try:
            session.flush()
        except IntegrityError:
            raise InvalidInputError(f"a model named '{name}' is already registered") from None
        return _record(model)


def _http_values(base_url, server_model, api_key_env, path, mmproj_path) -> dict[str, Any]:  # noqa: ANN001
    if path or mmproj_path:
        raise InvalidInputError("an openai model has no local files; pass --base-url and --server-model")
    if not base_url or not base_url.startswith(("http://", "https://")):
        raise InvalidInputError(f"base URL '{base_url or ''}' must start with http:// or https:// "
                                "(for example http://127.0.0.1:8080/v1)")
    if not server_model:
        raise InvalidInputError("an openai model needs --server-model, the name the server lists under /models")
    return {"base_url": base_url.rstrip("/"), "server_model": server_model, "api_key_env": api_key_env,
            "path": None, "mmproj_path": None, "quantization": None}


def _local_values(backend: str, path, mmproj_path, family: str | None) -> dict[str, Any]:  # noqa: ANN001
    if not path:
        raise InvalidInputError(f"a {backend} model needs --path")
    path = Path(path).expanduser().resolve()
    if backend == "transformers":
        if mmproj_path:
            raise InvalidInputError("--mmproj is for llama.cpp models only")
        if not (path / "config.json").is_file():
            raise InvalidInputError(f"{path} is not a Hugging Face model folder (no config.json); pass a "
                                    "local folder, or fetch a hub model with 'neuroonco models download'")
        detected_family, quantization = detect_transformers(path)
        return {"path": str(path), "mmproj_path": None, "family": family or detected_family,
                "quantization": quantization}
    model = read_gguf_info(path, "model")
    if model.kind != "model":
        raise InvalidInputError(f"{path} is a vision projector (mmproj); pass it with --mmproj and the "
                                "text model with --path")
    mmproj = None
    if mmproj_path:
        mmproj_path = Path(mmproj_path).expanduser().resolve()
        mmproj = read_gguf_info(mmproj_path, "mmproj")
        if mmproj.kind != "mmproj":
            raise InvalidInputError(f"mmproj file {mmproj_path} is a text model, not a vision projector")
    return {"path": str(path), "mmproj_path": str(mmproj_path) if mmproj_path else None,
            "family": family or detect_gguf_family(model, mmproj), "quantization": model.quantization}


def get_model(db: Database, name: str) -> ModelRecord:
    with db.session() as session:
        model = session.scalar(select(Model).where(Model.name == name))
        if model is None:
            raise NotFoundError(f"model '{name}' is not registered; list models with 'neuroonco models list'")
        return _record(model)


def list_models(db: Database) -> list[ModelRecord]:
    with db.session() as session:
        return [_record(model) for model in session.scalars(select(Model).order_by(Model.name))]


def remove_model(db: Database, name: str) -> None:
    """Delete the model row and its adapter rows; files on disk stay."""
    with db.session(write=True) as session:
        model = session.scalar(select(Model).where(Model.name == name))
        if model is None:
            raise NotFoundError(f"model '{name}' is not registered; list models with 'neuroonco models list'")
        session.delete(model)


def add_adapter(db: Database, model_name: str, adapter_name: str, path: str | Path, *,
                compute_hash: bool = True, progress: Progress | None = None) -> AdapterRecord:
    """Register a PEFT adapter folder for a transformers model."""
    path = Path(path).expanduser().resolve()
    if not (path / "adapter_config.json").is_file():
        raise InvalidInputError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
    record = get_model(db, model_name)
    if record.backend != "transformers":
        raise InvalidInputError(f"model '{model_name}' uses {record.backend}; adapters load on transformers "
                                "models only (merge and convert an adapter for llama.cpp)")
    sha256 = hash_model(path, progress=progress)[0] if compute_hash else None
    with db.session(write=True) as session:
        exists = session.scalar(select(Adapter.id).where(Adapter.model_id == record.id,
                                                         Adapter.name == adapter_name))
        if exists is not None:
            raise InvalidInputError(f"model '{model_name}' already has an adapter named '{adapter_name}'")
        adapter = Adapter(model_id=record.id, name=adapter_name, path=str(path), sha256=sha256)
        session.add(adapter)
        session.flush()
        return AdapterRecord(adapter.id, adapter.name, adapter.path, adapter.sha256)


def remove_adapter(db: Database, model_name: str, adapter_name: str) -> None:
    record = get_model(db, model_name)
    record.adapter(adapter_name)
    with db.session(write=True) as session:
        adapter = session.scalar(select(Adapter).where(Adapter.model_id == record.id,
                                                       Adapter.name == adapter_name))
        session.delete(adapter)


def store_hashes(db: Database, name: str, progress: Progress | None = None) -> ModelRecord:
    """Hash a registered model's weights (and adapters without a hash) and store the results."""
    record = get_model(db, name)
    if record.backend == "openai":
        raise InvalidInputError(f"model '{name}' is served over HTTP; there are no local weights to hash")
    sha256, file_hashes = hash_model(record.path, record.mmproj_path, progress)
    adapter_hashes = {adapter.id: hash_model(adapter.path, progress=progress)[0]
                      for adapter in record.adapters if adapter.sha256 is None}
    with db.session(write=True) as session:
        model = session.get(Model, record.id)
        if model is None:
            raise NotFoundError(f"model '{name}' was removed while its weights were hashed")
        model.sha256 = sha256
        model.settings = {**(model.settings or {}), "file_hashes": file_hashes}
        for adapter in model.adapters:
            if adapter.id in adapter_hashes:
                adapter.sha256 = adapter_hashes[adapter.id]
        session.flush()
        return _record(model)
