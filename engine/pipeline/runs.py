"""Pipeline runs: creating or reopening a run, its configuration and its stored statistics.

A run's configuration is fixed when the run is created, because stored labels and
instructions depend on it. Reopening a run with a different value raises, except that a
model not yet set may be set later.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from db.models import Dataset, PipelineRun
from db.session import Database
from engine.errors import InvalidInputError, NotFoundError
from engine.pipeline.prompts import AUDIT_PROMPT, PARAPHRASE_PROMPT, RUN_A_PROMPT, RUN_B_PROMPT
from engine.pipeline.samples import SELECTIONS

MODEL_ROLES = ("run_a", "run_b", "audit", "paraphrase")
DEFAULT_CONFIG: dict[str, Any] = {
    "selection": "largest",
    "slice_step": 1,
    "seed": 0,
    "trap_share": 0.2,
    "benchmark_share": 0.2,
    "models": {role: None for role in MODEL_ROLES},
    "prompts": {"run_a": RUN_A_PROMPT, "run_b": RUN_B_PROMPT, "audit": AUDIT_PROMPT,
                "paraphrase": PARAPHRASE_PROMPT},
}


@dataclass(frozen=True)
class RunInfo:
    """A pipeline run as the stages see it, detached from any database session."""

    id: int
    name: str
    dataset: str
    dataset_id: int
    config: dict[str, Any]

    def model(self, role: str) -> str | None:
        return self.config["models"].get(role)


def check_config(config: dict[str, Any]) -> None:
    """Raise InvalidInputError for a configuration value out of range."""
    if config["selection"] not in SELECTIONS:
        raise InvalidInputError(f"slice selection {config['selection']!r} is unknown; use "
                                f"{' or '.join(SELECTIONS)}")
    if int(config["slice_step"]) < 1:
        raise InvalidInputError(f"slice step {config['slice_step']} must be 1 or more")
    for key in ("trap_share", "benchmark_share"):
        if not 0.0 <= float(config[key]) <= 1.0:
            raise InvalidInputError(f"{key.replace('_', ' ')} {config[key]} must be between 0 "
                                    "and 1 (a share, 0.2 for 20%)")


def open_run(db: Database, name: str, dataset: str | None = None,
             options: dict[str, Any] | None = None) -> RunInfo:
    """Create run ``name`` on ``dataset`` with ``options``, or reopen it.

    ``options`` contains configuration keys to set (None values are ignored); ``models`` is a
    dict by role. Raises NotFoundError for an unknown dataset or a new run without one, and
    InvalidInputError when an option contradicts the stored configuration.
    """
    options = {key: value for key, value in (options or {}).items() if value is not None}
    with db.session(write=True) as session:
        run = session.scalar(select(PipelineRun).where(PipelineRun.name == name))
        if run is None:
            if not dataset:
                raise NotFoundError(f"pipeline run '{name}' not found; pass --dataset to "
                                    "create it")
            dataset_row = session.scalar(select(Dataset).where(Dataset.name == dataset))
            if dataset_row is None:
                raise NotFoundError(f"dataset '{dataset}' not found; import it first")
            config = _merged(copy.deepcopy(DEFAULT_CONFIG), options, name, fresh=True)
            check_config(config)
            run = PipelineRun(name=name, dataset_id=dataset_row.id, config=config, stats={})
            session.add(run)
            session.flush()
        else:
            dataset_row = session.get(Dataset, run.dataset_id)
            if dataset and dataset != dataset_row.name:
                raise InvalidInputError(f"pipeline run '{name}' belongs to dataset "
                                        f"'{dataset_row.name}', not '{dataset}'; pass another "
                                        "--name for a new run")
            config = _merged(copy.deepcopy(run.config), options, name, fresh=False)
            check_config(config)
            run.config = config
        return RunInfo(run.id, run.name, dataset_row.name, dataset_row.id, copy.deepcopy(config))


def _merged(config: dict[str, Any], options: dict[str, Any], name: str,
            fresh: bool) -> dict[str, Any]:
    for key, value in options.items():
        if key == "models":
            for role, model in value.items():
                if model is None:
                    continue
                stored = config["models"].get(role)
                if not fresh and stored not in (None, model):
                    raise InvalidInputError(f"pipeline run '{name}' uses model '{stored}' for "
                                            f"{role}, not '{model}'; pass another --name for a "
                                            "new run")
                config["models"][role] = model
        elif key not in config:
            raise InvalidInputError(f"unknown pipeline option {key!r}")
        elif not fresh and config[key] != value:
            raise InvalidInputError(f"pipeline run '{name}' was created with {key} "
                                    f"{config[key]!r}, not {value!r}; pass another --name for "
                                    "a new run")
        else:
            config[key] = value
    return config


def get_run(db: Database, name: str) -> RunInfo:
    """Return run ``name``; raise NotFoundError naming the way to list runs."""
    with db.session() as session:
        run = session.scalar(select(PipelineRun).where(PipelineRun.name == name))
        if run is None:
            raise NotFoundError(f"pipeline run '{name}' not found; list runs with "
                                "'neuroonco pipeline list'")
        dataset = session.get(Dataset, run.dataset_id)
        return RunInfo(run.id, run.name, dataset.name, dataset.id, copy.deepcopy(run.config))


def read_stats(db: Database, run_id: int) -> dict[str, Any]:
    with db.session() as session:
        return copy.deepcopy(session.get(PipelineRun, run_id).stats or {})


def update_stats(db: Database, run_id: int, section: str, values: Any) -> None:
    """Replace section ``section`` of the run's stats with ``values`` (JSON-serialisable)."""
    with db.session(write=True) as session:
        run = session.get(PipelineRun, run_id)
        stats = copy.deepcopy(run.stats or {})
        stats[section] = values
        run.stats = stats  # a new object, so SQLAlchemy detects the JSON change
