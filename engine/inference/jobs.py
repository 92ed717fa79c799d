"""Background job kinds of the inference engine."""

from __future__ import annotations

from engine.errors import InvalidInputError
from engine.inference.registry import store_hashes
from engine.jobs.registry import job_kind


@job_kind("models.hash", description="Hash a registered model's weight files (and its adapters)")
def hash_weights(db, params, progress):  # noqa: ANN001 - job function signature
    """Compute and store the SHA-256 of model ``params['name']``; cancellable once per MiB."""
    name = params.get("name")
    if not name:
        raise InvalidInputError("the models.hash job needs the parameter 'name' (a registered model)")
    record = store_hashes(db, name, progress)
    return {"name": record.name, "sha256": record.sha256,
            "files": len(record.settings.get("file_hashes", {}))}
