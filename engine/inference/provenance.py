"""The provenance stored with every answer: template, model, backend, settings, seed.

:func:`model_description` describes a registered model without loading it, for a run's
configuration: the registry fields plus the size and modification time of every file, so a
file replaced after registration changes the description even before it is hashed again.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import engine
from engine.errors import InvalidInputError
from engine.inference.images import DEFAULT_MAX_PIXELS
from engine.inference.registry import RECORD_SETTINGS, AdapterRecord, ModelRecord
from engine.inference.types import Result

# The libraries whose version can change a backend's output.
BACKEND_LIBRARIES = {
    "transformers": ("transformers", "torch", "peft"),
    "llama.cpp": ("llama_cpp_python",),
    "openai": ("httpx",),
}


def library_versions(backend: str) -> dict[str, str]:
    versions = {}
    for package in BACKEND_LIBRARIES.get(backend, ()):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def build_provenance(result: Result) -> dict[str, Any]:
    """Return the JSON-serialisable provenance of ``result`` (the Answer ``provenance`` column)."""
    backend = result.model.get("backend", "")
    return {
        "template": {"id": result.template_id, "version": result.template_version},
        "model": dict(result.model),
        "backend": backend,
        "backend_options": dict(result.backend_options),
        "settings": result.settings.as_dict(),
        "seed": result.seed,
        "letters": {"method": result.letter_method, "mass": result.letter_mass, "note": result.letter_note},
        "images_sha256": list(result.image_sha256),
        "tokens": {"prompt": result.prompt_tokens, "completion": result.completion_tokens,
                   "cached": result.cached_tokens},
        "finish_reason": result.finish_reason,
        "timings": result.timings.as_dict(),
        "versions": {"workbench": engine.__version__, **library_versions(backend)},
    }


def answer_fields(result: Result) -> dict[str, Any]:
    """Values for the Answer row's own columns, from ``result`` (parsing is the caller's job)."""
    return {
        "raw_output": result.text,
        "letter_probs": dict(result.letter_probs) if result.letter_probs is not None else None,
        "letter_mass": result.letter_mass,
        "latency_ms": result.timings.total_s * 1000.0,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "provenance": build_provenance(result),
    }


def model_description(record: ModelRecord, adapter: AdapterRecord | None = None) -> dict[str, Any]:
    """Return what identifies ``record`` (and ``adapter``) without loading the weights.

    Raises InvalidInputError when a local model's or the adapter's files are missing.
    """
    settings = {key: value for key, value in record.settings.items() if key not in RECORD_SETTINGS}
    description: dict[str, Any] = {
        "name": record.name, "backend": record.backend, "family": record.family,
        "quantization": record.quantization, "revision": record.revision,
        "sha256": record.sha256, "file_hashes": record.settings.get("file_hashes"),
        "settings": settings, "max_pixels": settings.get("max_pixels", DEFAULT_MAX_PIXELS),
    }
    if record.backend == "openai":
        description.update(base_url=record.base_url, server_model=record.server_model)
    else:
        description.update(path=record.path, mmproj_path=record.mmproj_path,
                           files=file_fingerprints(record.path, record.name))
        if record.mmproj_path:
            description["files"] += file_fingerprints(record.mmproj_path, record.name, "mmproj:")
    description["adapter"] = None
    if adapter is not None:
        description["adapter"] = {"name": adapter.name, "path": adapter.path,
                                  "sha256": adapter.sha256,
                                  "files": file_fingerprints(adapter.path, adapter.name)}
    return description


def file_fingerprints(path: str | Path | None, owner: str, prefix: str = "") -> list[dict[str, Any]]:
    """Return name, size in bytes and modification time (ns) of the file ``path`` or of every
    file in the folder ``path``, skipping hidden files and folders.

    ``owner`` names the model or adapter in the error raised when ``path`` is missing.
    """
    path = Path(path) if path else None
    if path is None or not path.exists():
        raise InvalidInputError(f"the files of '{owner}' are missing: {path} does not exist; "
                                "restore them or register the model again")
    if path.is_file():
        files = [(path.name, path)]
    else:
        files = sorted((file.relative_to(path).as_posix(), file) for file in path.rglob("*")
                       if file.is_file()
                       and not any(part.startswith(".") for part in file.relative_to(path).parts))
    fingerprints = []
    for name, file in files:
        stat = file.stat()
        fingerprints.append({"file": prefix + name, "bytes": stat.st_size,
                             "modified_ns": stat.st_mtime_ns})
    return fingerprints
