"""Checkpoint folders: the adapter plus everything needed to resume exactly.

``<output>/checkpoints/step-000120/`` holds

- ``adapter/``: ``adapter_model.safetensors`` + ``adapter_config.json`` (what gets
  registered, merged or loaded for inference);
- ``trainer_state.pt``: optimizer, scheduler and gradient-scaler states, the random number
  generator states of every process, and the data position (step, epoch, micro-batch);
- ``state.json``: step, validation loss and time, readable without torch.

A checkpoint is written to a hidden temporary folder and renamed into place, so a
``step-*`` folder is always complete.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InvalidInputError, NotFoundError

ADAPTER_DIR = "adapter"
STATE_FILE = "trainer_state.pt"
SUMMARY_FILE = "state.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint on disk: its step, folder and validation loss."""

    step: int
    path: Path
    val_loss: float | None

    @property
    def adapter_path(self) -> Path:
        return self.path / ADAPTER_DIR


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def checkpoint_path(output_dir: str | Path, step: int) -> Path:
    return checkpoints_dir(output_dir) / f"step-{step:06d}"


def list_checkpoints(output_dir: str | Path) -> list[CheckpointInfo]:
    """Return the complete checkpoints under ``output_dir``, oldest first."""
    folder = checkpoints_dir(output_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("step-*"):
        summary = path / SUMMARY_FILE
        if not summary.is_file():
            continue
        values = json.loads(summary.read_text(encoding="utf-8"))
        found.append(CheckpointInfo(int(values["step"]), path, values.get("val_loss")))
    return sorted(found, key=lambda info: info.step)


def latest_checkpoint(output_dir: str | Path) -> CheckpointInfo | None:
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    """Return the random number generator states of this process (torch, CUDA, numpy, Python)."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(output_dir: str | Path, step: int, model: Any, trainer_state: dict[str, Any],
                    val_loss: float | None) -> CheckpointInfo:
    """Write checkpoint ``step`` (adapter via ``model.save_pretrained`` + ``trainer_state``)."""
    import torch

    target = checkpoint_path(output_dir, step)
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging / ADAPTER_DIR)
    torch.save({"format": FORMAT_VERSION, **trainer_state}, staging / STATE_FILE)
    summary = {"step": step, "val_loss": val_loss,
               "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return CheckpointInfo(step, target, val_loss)


def load_trainer_state(checkpoint: CheckpointInfo) -> dict[str, Any]:
    """Read ``trainer_state.pt``; raise InvalidInputError for an unknown format."""
    import torch

    path = checkpoint.path / STATE_FILE
    if not path.is_file():
        raise NotFoundError(f"checkpoint {checkpoint.path} has no {STATE_FILE}; it cannot resume")
    # The state holds numpy and Python RNG states besides tensors, so it is not weights-only.
    # It is a file this trainer wrote into the run's own output folder.
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("format") != FORMAT_VERSION:
        raise InvalidInputError(f"checkpoint {checkpoint.path} has state format {state.get('format')}; "
                                f"this version resumes format {FORMAT_VERSION} only")
    return state


def load_adapter_weights(model: Any, checkpoint: CheckpointInfo) -> None:
    """Copy the checkpoint's adapter weights into the PEFT ``model`` (its default adapter)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights_file = checkpoint.adapter_path / "adapter_model.safetensors"
    if not weights_file.is_file():
        raise NotFoundError(f"checkpoint {checkpoint.path} has no adapter weights ({weights_file.name})")
    result = set_peft_model_state_dict(model, load_file(weights_file))
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    if unexpected:
        raise InvalidInputError(f"checkpoint {checkpoint.path} does not fit this model: unexpected "
                                f"weights {', '.join(unexpected[:3])}")
