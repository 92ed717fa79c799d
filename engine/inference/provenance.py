"""The provenance stored with every answer: template, model, backend, settings, seed."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import engine
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
