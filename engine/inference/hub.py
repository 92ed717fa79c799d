"""Optional downloads from the Hugging Face hub (only when the user asks for one)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from engine.errors import InvalidInputError, WorkbenchError

log = logging.getLogger(__name__)

TRUTHY = ("1", "true", "yes", "on")


def offline_reason() -> str | None:
    """Name the environment variable that forbids downloads, or None."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in TRUTHY:
            return variable
    return None


def download(repo_id: str, *, revision: str | None = None, cache_dir: str | Path | None = None,
             allow_patterns: Sequence[str] | None = None) -> tuple[Path, str]:
    """Download (or resume) a snapshot of ``repo_id``; return (local folder, commit hash).

    huggingface_hub keeps partial files and resumes them on the next call, and shows its
    own progress bars on standard error. Raises WorkbenchError offline or when the hub
    cannot be reached, with what to do instead.
    """
    if "/" not in repo_id or repo_id.startswith("/"):
        raise InvalidInputError(f"'{repo_id}' is not a hub repository id; use the form owner/name")
    variable = offline_reason()
    if variable:
        raise WorkbenchError(f"{variable}=1 is set, so nothing is downloaded; unset {variable} to download "
                             f"{repo_id}, or copy the model here and register the folder with "
                             "'neuroonco models add'")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir,
                                   allow_patterns=list(allow_patterns) if allow_patterns else None)
    except GatedRepoError:
        raise WorkbenchError(f"{repo_id} is gated: accept its terms on huggingface.co and log in with "
                             "'hf auth login', then download again") from None
    except RepositoryNotFoundError:
        raise WorkbenchError(f"{repo_id} was not found on the Hugging Face hub (or it is private); "
                             "check the id") from None
    except RevisionNotFoundError:
        raise WorkbenchError(f"revision '{revision}' of {repo_id} does not exist") from None
    except LocalEntryNotFoundError as error:
        raise WorkbenchError(f"could not reach the Hugging Face hub to download {repo_id} "
                             f"({_one_line(error)}); "
                             "check the network connection or proxy, or copy the model here and "
                             "register it with 'neuroonco models add'") from None
    except OSError as error:
        raise WorkbenchError(f"downloading {repo_id} failed ({_one_line(error)}); check the network and free "
                             "disk space, then run the same command again to resume") from None
    folder = Path(folder)
    log.info("downloaded %s to %s", repo_id, folder)
    # Cache snapshots live in .../snapshots/<commit hash>.
    commit = folder.name if folder.parent.name == "snapshots" else (revision or "")
    return folder, commit


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0].removeprefix("Got: ") if lines else type(error).__name__
