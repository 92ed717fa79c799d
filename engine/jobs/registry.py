"""Job kinds: a name, the function that runs it, and whether a failed job can resume.

A job function has the signature ``run(db, params, progress) -> dict | None``. It commits
its work in as many transactions as it needs; a resumable kind must skip work that an
earlier attempt already committed. The returned dict is stored as the job's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from engine.errors import NotFoundError
from engine.optional import import_if_present

# Modules whose import registers job kinds. Listed here, not discovered, so a worker
# started in a fresh process knows every kind without importing the GUI.
KIND_MODULES = (
    "engine.jobs.builtin",
    "engine.io.jobs",
    "engine.semantics.jobs",
    "engine.inference.jobs",
    "engine.bench.jobs",
    "engine.pipeline.jobs",
)


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Callable[..., dict[str, Any] | None]
    resumable: bool
    description: str


_KINDS: dict[str, JobKind] = {}
_loaded = False


def job_kind(name: str, resumable: bool = False, description: str = "") -> Callable:
    """Register the decorated function as the runner of job kind ``name``."""

    def decorate(func: Callable) -> Callable:
        _KINDS[name] = JobKind(name, func, resumable, description or (func.__doc__ or "").strip())
        return func

    return decorate


def load_kinds() -> dict[str, JobKind]:
    """Import every module in :data:`KIND_MODULES` once and return the registered kinds."""
    global _loaded
    if not _loaded:
        for module in KIND_MODULES:
            import_if_present(module)
        _loaded = True
    return _KINDS


def get_kind(name: str) -> JobKind:
    kinds = load_kinds()
    if name not in kinds:
        known = ", ".join(sorted(kinds)) or "none"
        raise NotFoundError(f"unknown job kind '{name}'; known kinds: {known}")
    return kinds[name]
