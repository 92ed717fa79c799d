"""Background job kinds of the inference engine."""

from __future__ import annotations

from engine.errors import InvalidInputError
from engine.inference import hub
from engine.inference.registry import add_model, check_new_name, store_hashes
from engine.jobs.queue import submit
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


@job_kind("models.download", resumable=True,
          description="Download a model from the Hugging Face hub, register it and queue its hashing")
def download_model(db, params, progress):  # noqa: ANN001 - job function signature
    """Download ``params['repo_id']`` and register it as ``params['name']``, counting bytes as progress.

    Optional parameters: revision, cache_dir, gguf and mmproj (fetch only those files of a
    llama.cpp model), licence. Cancellable before each file and while bytes arrive. A second
    attempt fetches only the files the first left incomplete. The weights are hashed by a
    models.hash job queued at the end, so this job's progress stays in bytes.
    """
    repo_id, name = params.get("repo_id"), params.get("name")
    if not repo_id or not name:
        raise InvalidInputError("the models.download job needs the parameters 'repo_id' (owner/name on the hub) "
                                "and 'name' (the name to register the model under)")
    gguf, mmproj = params.get("gguf"), params.get("mmproj")
    patterns = hub.file_patterns(gguf, mmproj)
    name = check_new_name(db, name)
    folder, commit = hub.download(repo_id, revision=params.get("revision"), cache_dir=params.get("cache_dir"),
                                  allow_patterns=patterns, progress=progress)

    backend, path, mmproj_path = hub.model_paths(folder, gguf, mmproj)
    record = add_model(db, name, backend, path=path, mmproj_path=mmproj_path,
                       revision=commit, licence=params.get("licence"),
                       compute_hash=False)
    hash_job = submit(db, "models.hash", {"name": record.name})
    return {"name": record.name, "repo_id": repo_id, "commit": commit, "path": record.path,
            "hash_job": hash_job}
