"""Plain records of training runs, shared by the engine, the CLI and the Qt widgets.

Nothing here touches the database, so widgets can import these types without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.finetune.config import FineTuneConfig

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
FINAL = (SUCCEEDED, FAILED, CANCELLED)


@dataclass(frozen=True)
class RunInfo:
    """A training run as plain data (safe to use after the session closed)."""

    id: int
    name: str
    status: str
    base_model: str | None
    base_model_id: int | None
    config: dict[str, Any]
    output_dir: str
    pid: int | None
    hostname: str | None
    step: int
    total_steps: int | None
    message: str | None
    cancel_requested: bool
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def settings(self) -> FineTuneConfig:
        return FineTuneConfig.from_dict(self.config)

    @property
    def log_path(self) -> Path:
        return Path(self.output_dir) / "train.log"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": self.status,
                "base_model": self.base_model, "step": self.step, "total_steps": self.total_steps,
                "message": self.message, "cancel_requested": self.cancel_requested,
                "output_dir": self.output_dir, "pid": self.pid, "hostname": self.hostname,
                "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, "config": self.config}


@dataclass(frozen=True)
class MetricPoint:
    """One metric row: ``loss`` and ``learning_rate`` of a step, ``val_loss`` where validated."""

    id: int
    step: int
    epoch: float | None
    loss: float | None
    learning_rate: float | None
    val_loss: float | None
    samples_per_second: float | None
    gpu_memory_mb: float | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class CheckpointEntry:
    """A checkpoint row with the adapters registered from it."""

    id: int
    step: int
    path: str
    val_loss: float | None
    adapters: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSnapshot:
    """The state of one run for the monitor."""

    run: RunInfo
    metrics: list[MetricPoint]
    checkpoints: list[CheckpointEntry]
    log_tail: str
    eta_seconds: float | None
    last_metric_id: int
