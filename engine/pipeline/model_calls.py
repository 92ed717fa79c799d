"""The one interface through which the pipeline calls a model.

Every model-calling stage (silver-label runs A and B, the audit, optional paraphrasing)
builds a :class:`ModelRequest` and passes it to a ``ModelCall``, a function that returns the
model's raw reply text. :func:`model_caller` turns a model specification into one:

- ``replay:<file.jsonl>`` answers from recorded replies, one JSON object per line with
  ``key`` and ``output`` (for example replies of an earlier run or of an external service);
- any other name is a registered model, run by :func:`call_model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.errors import InvalidInputError, NotFoundError, WorkbenchError

REPLAY_PREFIX = "replay:"


class ModelUnavailableError(WorkbenchError):
    """No backend can run the requested model in this build."""


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


def call_model(request: ModelRequest) -> str:
    """Run ``request`` on the registered model ``request.model`` and return its reply text.

    MODEL BACKEND PLUG POINT. This is the only function that has to change to run the
    pipeline on local models. It should look the model up in the model registry and build
    an inference request: a system message, one image part plus the user text, and
    generation settings from ``request.settings`` with ``json_schema`` for constrained
    decoding. It runs the request and returns the generated text, raising WorkbenchError
    with a one-line message when the call fails.
    """
    raise ModelUnavailableError(
        f"model backends are not available in this build yet, so model '{request.model}' "
        "cannot run; use 'replay:<file.jsonl>' with recorded replies, or run the model-free "
        "stages (description, generate, split, export)")


class ReplayModel:
    """Answers requests from a JSONL file of ``{"key": ..., "output": ...}`` records."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.outputs = read_replay_file(self.path)

    def __call__(self, request: ModelRequest) -> str:
        if request.key not in self.outputs:
            raise NotFoundError(f"replay file '{self.path}' has no reply for key "
                                f"'{request.key}'; add a line {{\"key\": ..., \"output\": ...}}")
        return self.outputs[request.key]


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


def model_caller(spec: str | None, role: str) -> ModelCall:
    """Return the ModelCall for model specification ``spec``; ``role`` names it in errors."""
    if not spec or not spec.strip():
        raise InvalidInputError(f"no model is set for {role}; pass one (a registered model "
                                "name or replay:<file.jsonl>)")
    spec = spec.strip()
    if spec.startswith(REPLAY_PREFIX):
        return ReplayModel(spec[len(REPLAY_PREFIX):])
    return call_model
