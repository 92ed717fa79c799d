"""Optional downloads from the Hugging Face hub (only when the user asks for one).

A download lists the snapshot first (a huggingface_hub dry run: commit, file sizes, which
files the cache already contains), then fetches the missing files one at a time so that one
:class:`~engine.progress.Progress` counts bytes across the whole snapshot and a job can stop
between files. Files already complete stay in the cache, so running a failed download again
fetches only the rest. huggingface_hub 2.4 writes each file to a temporary file that it
deletes when the transfer fails, so an interrupted file starts again from its first byte.
Within one run, huggingface_hub retries a dropped connection up to five times with an HTTP
range request that starts after the bytes already written.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from engine.errors import InvalidInputError, WorkbenchError
from engine.optional import import_if_present
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

TRUTHY = ("1", "true", "yes", "on")


def offline_reason() -> str | None:
    """Name the environment variable that forbids downloads, or None."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in TRUTHY:
            return variable
    return None


def file_patterns(gguf: str | None, mmproj: str | None) -> list[str] | None:
    """Return the file names to fetch for a llama.cpp model, or None to fetch the whole repository."""
    if mmproj and not gguf:
        raise InvalidInputError("--mmproj needs --gguf (the text-model GGUF file of the same repository)")
    return [name for name in (gguf, mmproj) if name] or None


def model_paths(folder: Path, gguf: str | None, mmproj: str | None) -> tuple[str, Path, Path | None]:
    """Return (backend, path, mmproj path) under which a downloaded snapshot is registered."""
    if gguf:
        return "llama.cpp", folder / gguf, folder / mmproj if mmproj else None
    return "transformers", folder, None


def download(repo_id: str, *, revision: str | None = None, cache_dir: str | Path | None = None,
             allow_patterns: Sequence[str] | None = None,
             progress: Progress | None = None) -> tuple[Path, str]:
    """Fetch the files of ``repo_id`` that the cache lacks; return (snapshot folder, commit hash).

    ``progress`` counts bytes over all selected files, the cached ones included, and may
    raise Cancelled: before each file, and during a file each time huggingface_hub reports
    bytes written. Raises WorkbenchError offline, when the hub cannot be reached or the
    download stops (with what to do next), and InvalidInputError when no file matches
    ``allow_patterns``.
    """
    if "/" not in repo_id or repo_id.startswith("/"):
        raise InvalidInputError(f"'{repo_id}' is not a hub repository id; use the form owner/name")
    variable = offline_reason()
    if variable:
        raise WorkbenchError(f"{variable}=1 is set, so nothing is downloaded; unset {variable} to download "
                             f"{repo_id}, or copy the model here and register the folder with "
                             "'neuroonco models add'")
    with _hub_messages_as_info():
        return _download(repo_id, revision, cache_dir, list(allow_patterns) if allow_patterns else None,
                         progress or NullProgress())


def _download(repo_id: str, revision: str | None, cache_dir: str | Path | None, patterns: list[str] | None,
              progress: Progress) -> tuple[Path, str]:
    from huggingface_hub import hf_hub_download, snapshot_download

    with _hub_errors(repo_id, revision, during=None):
        files = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=patterns,
                                  dry_run=True, tqdm_class=_silent_bar_class())
    if not files:
        raise InvalidInputError(f"no file of {repo_id} matches {', '.join(patterns or ['*'])}; "
                                "check the file names on the repository's page")
    commit = files[0].commit_hash
    # Smallest first: configs and tokenizers are complete before the weights start, so a
    # download that stops in a large weight file keeps every small file.
    files = sorted(files, key=lambda info: (info.file_size or 0, info.filename))

    progress.start(sum(info.file_size or 0 for info in files), f"downloading {repo_id}")
    progress.advance(sum(info.file_size or 0 for info in files if not info.will_download))
    counter = _byte_counter_class(progress)
    for info in files:
        if not info.will_download:
            continue
        progress.check()
        progress.advance(0, message=f"downloading {info.filename}")
        with _hub_errors(repo_id, revision, during=info.filename):
            hf_hub_download(repo_id, info.filename, revision=commit, cache_dir=cache_dir, tqdm_class=counter)
        log.info("downloaded %s of %s at %s", info.filename, repo_id, commit)

    # A last pass transfers no file: it links files whose blobs the cache already held and
    # stores the file listing, which huggingface_hub reads to tell a complete snapshot from a
    # partial one.
    with _hub_errors(repo_id, revision, during=None):
        folder = snapshot_download(repo_id, revision=commit, cache_dir=cache_dir, allow_patterns=patterns,
                                   tqdm_class=_silent_bar_class())
    log.info("snapshot of %s at %s is complete in %s", repo_id, commit, folder)
    return Path(folder), commit


class _ForwardAsInfo(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.info("%s: %s", record.name, record.getMessage())


@contextmanager
def _hub_messages_as_info() -> Iterator[None]:
    """Log huggingface_hub's records as info records of this module while a download runs.

    huggingface_hub prints its warnings (a dropped connection it retries) to standard error
    with a handler of its own. The download's result or error already reports the
    outcome, so these notes go to the debug output and to a job's log instead.
    """
    import huggingface_hub.utils.logging  # noqa: F401 - its import adds the handler swapped out here

    hub_logger = logging.getLogger("huggingface_hub")
    saved = hub_logger.handlers[:], hub_logger.propagate
    hub_logger.handlers, hub_logger.propagate = [_ForwardAsInfo()], False
    try:
        yield
    finally:
        hub_logger.handlers, hub_logger.propagate = saved


def _byte_counter_class(progress: Progress) -> type:
    """Return a class that huggingface_hub uses as its per-file progress bar, adding bytes to ``progress``."""

    class ByteCounter:
        # huggingface_hub creates one per file with tqdm's keyword arguments, and reuses it when
        # it retries after a dropped connection. update() gets the bytes written to disk, or a
        # negative count when a server ignored a range request and the file starts over.
        def __init__(self, *args, initial: int = 0, **kwargs) -> None:  # noqa: ANN002, ANN003 - tqdm's
            if initial:
                progress.advance(int(initial))

        def __enter__(self) -> ByteCounter:
            return self

        def __exit__(self, *exc_info) -> None:  # noqa: ANN002
            return None

        def update(self, n: float | None = 1) -> None:
            progress.advance(int(n or 0))

        def update_transfer(self, n: float | None = 1) -> None:
            """Ignore bytes received: hf_xet reports compressed transfer apart from bytes written."""

        def set_postfix_str(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            return None

        set_transfer_postfix_str = set_postfix_str

        def close(self) -> None:
            return None

    return ByteCounter


def _silent_bar_class() -> type:
    """Return a tqdm class that draws nothing, for the listing pass and the final linking pass."""
    from tqdm.auto import tqdm

    class SilentBar(tqdm):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - tqdm's arguments
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentBar


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Return the connection error classes of httpx2 and httpx (huggingface_hub 2.4 uses httpx2)."""
    classes = []
    for name in ("httpx2", "httpx"):
        module = import_if_present(name)
        if module is not None:
            classes.append(module.TransportError)
    return tuple(classes)


@contextmanager
def _hub_errors(repo_id: str, revision: str | None, during: str | None) -> Iterator[None]:
    """Raise huggingface_hub and connection errors as WorkbenchError, naming the file ``during`` if given."""
    from huggingface_hub.errors import DryRunError

    transport = _transport_errors()
    try:
        yield
    except DryRunError as error:
        # A dry run that cannot list the repository wraps the reason (not found, unreachable...).
        cause = error.__cause__ or error
        raise _user_error(cause, repo_id, revision, during, transport) from None
    except (OSError, *transport) as error:
        raise _user_error(error, repo_id, revision, during, transport) from None


def _user_error(error: BaseException, repo_id: str, revision: str | None, during: str | None,
                transport: tuple[type[BaseException], ...]) -> WorkbenchError:
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    if isinstance(error, GatedRepoError):
        return WorkbenchError(f"{repo_id} is gated: accept its terms on huggingface.co and log in with "
                              "'hf auth login', then download again")
    if isinstance(error, RepositoryNotFoundError):
        return WorkbenchError(f"{repo_id} was not found on the Hugging Face hub (or it is private); "
                              "check the id")
    if isinstance(error, RevisionNotFoundError):
        return WorkbenchError(f"revision '{revision}' of {repo_id} does not exist")
    if during is not None:
        return WorkbenchError(f"downloading {during} of {repo_id} stopped ({_one_line(error)}); check the "
                              "network connection and free disk space, then run the same command again, "
                              "which fetches only the files still missing")
    if isinstance(error, (LocalEntryNotFoundError, *transport)):
        return WorkbenchError(f"could not reach the Hugging Face hub to download {repo_id} "
                              f"({_one_line(error)}); "
                              "check the network connection or proxy, or copy the model here and "
                              "register it with 'neuroonco models add'")
    return WorkbenchError(f"downloading {repo_id} failed ({_one_line(error)}); check the network and free "
                          "disk space, then run the same command again to continue")


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0].removeprefix("Got: ") if lines else type(error).__name__
