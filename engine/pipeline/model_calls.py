"""The one interface through which the pipeline calls a model.

Every model-calling stage (silver-label runs A and B, the audit, optional paraphrasing)
builds a :class:`ModelRequest` and passes it to a ``ModelCall``, a callable that returns the
model's raw reply text. :func:`model_caller` turns a model specification into one:

- ``replay:<file.jsonl>`` answers from recorded replies, one JSON object per line with
  ``key`` and ``output`` (for example replies of an earlier run or of an external service);
- any other name is a model in the registry, run through the inference engine by
  :class:`engine.pipeline.registered_model.RegisteredModel`.

A ModelCall raises ModelCallError when one request fails, and the stage records the
failure and goes on. It raises ModelUnavailableError when no request can succeed, and the
stage stops. Stages open their callers with :func:`stage_caller`, which frees a loaded
model when the stage ends.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from db.session import Database
from engine.errors import InvalidInputError, NotFoundError, WorkbenchError

REPLAY_PREFIX = "replay:"


class ModelUnavailableError(WorkbenchError):
    """The model cannot run any request: not registered, not loadable, or invalid settings."""


class ModelCallError(WorkbenchError):
    """One request failed on a model that is loaded; later requests may succeed."""


@dataclass(frozen=True)
class ModelRequest:
    """One model call: an image, the prompt texts and an optional JSON schema.

    ``image`` is the slice as displayed, uint8 greyscale (rows, columns), or None for
    text-only prompts. ``key`` identifies the request in logs and replay files (the sample
    id, or ``<sample id>#<question>`` for paraphrases). ``settings`` are the prompt's
    generation settings (max_new_tokens, temperature).
    """

    model: str
    key: str
    system: str
    user: str
    image: np.ndarray | None = None
    json_schema: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    prompt_name: str | None = None


ModelCall = Callable[[ModelRequest], str]


class ReplayModel:
    """Answers requests from a JSONL file of ``{"key": ..., "output": ...}`` records."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.outputs = read_replay_file(self.path)
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.requests = 0

    def __call__(self, request: ModelRequest) -> str:
        if request.key not in self.outputs:
            raise NotFoundError(f"replay file '{self.path}' has no reply for key "
                                f"'{request.key}'; add a line {{\"key\": ..., \"output\": ...}}")
        self.requests += 1
        return self.outputs[request.key]

    def provenance(self) -> dict[str, Any]:
        """Describe the replay file: its path, its SHA-256 and the number of replies returned."""
        return {"backend": "replay", "path": str(self.path), "sha256": self.sha256,
                "requests": self.requests}


def read_replay_file(path: Path) -> dict[str, str]:
    """Read a replay file into {key: output}. Raises InvalidInputError naming the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInputError(f"replay file '{path}' not found; check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"replay file '{path}' cannot be read ({error})") from None
    outputs: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"replay file '{path}' line {number} is not JSON "
                                    f"({error.msg})") from None
        if (not isinstance(record, dict) or not isinstance(record.get("key"), str)
                or not isinstance(record.get("output"), str)):
            raise InvalidInputError(f"replay file '{path}' line {number} needs string fields "
                                    "'key' and 'output'")
        if record["key"] in outputs:
            raise InvalidInputError(f"replay file '{path}' line {number} repeats key "
                                    f"'{record['key']}'")
        outputs[record["key"]] = record["output"]
    return outputs


def model_caller(spec: str | None, role: str, db: Database) -> ModelCall:
    """Return the ModelCall for model specification ``spec``; ``role`` names it in errors.

    A registered model is looked up at once, so an unknown name raises
    ModelUnavailableError before any sample is sent, but its backend loads on the first
    request. Close the returned caller with :func:`close_caller`, or use
    :func:`stage_caller`.
    """
    if not spec or not spec.strip():
        raise InvalidInputError(f"no model is set for {role}; pass one (a registered model "
                                "name or replay:<file.jsonl>)")
    spec = spec.strip()
    if spec.startswith(REPLAY_PREFIX):
        return ReplayModel(spec[len(REPLAY_PREFIX):])
    from engine.pipeline.registered_model import RegisteredModel

    return RegisteredModel(db, spec, role)


def close_caller(caller: ModelCall) -> None:
    """Free the resources of ``caller`` (a loaded model); callers without ``close`` have none."""
    close = getattr(caller, "close", None)
    if callable(close):
        close()


def caller_provenance(caller: ModelCall) -> dict[str, Any] | None:
    """Return the provenance that ``caller`` reports about its model, or None."""
    provenance = getattr(caller, "provenance", None)
    return provenance() if callable(provenance) else None


@contextmanager
def stage_caller(db: Database, spec: str | None, role: str,
                 given: ModelCall | None = None) -> Iterator[ModelCall]:
    """Yield ``given``, or the caller of ``spec`` that is closed when the block ends.

    A caller passed in as ``given`` belongs to the code that passed it and stays open.
    """
    if given is not None:
        yield given
        return
    caller = model_caller(spec, role, db)
    try:
        yield caller
    finally:
        close_caller(caller)
