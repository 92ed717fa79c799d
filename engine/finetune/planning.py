"""What a run would do, before it starts: validation, sample counts, estimate, command line.

``neuroonco finetune start --dry-run`` prints a :class:`RunPlan`; the app computes one for
the dialog (in a worker, because measuring sample lengths loads the processor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from db.session import Database
from engine.errors import WorkbenchError
from engine.finetune.command import command_line
from engine.finetune.config import FineTuneConfig
from engine.finetune.data import load_samples, split_samples
from engine.finetune.estimate import Estimate, estimate, model_facts
from engine.finetune.runs import validation_context
from engine.finetune.validation import Environment, Issue, errors, validate


@dataclass(frozen=True)
class RunPlan:
    """Validation issues and, when the settings are valid, the data counts and the estimate."""

    config: FineTuneConfig
    issues: tuple[Issue, ...]
    command: str
    train_samples: int | None = None
    val_samples: int | None = None
    mean_tokens: float | None = None
    estimate: Estimate | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not errors(list(self.issues)) and not self.problems


def estimate_device(config: FineTuneConfig, environment: Environment | None) -> str:
    """Return the device kind a run would train on: "cuda" or "cpu" (for the estimate)."""
    device = config.device or "auto"
    if device.startswith("cuda") or (device == "auto" and environment is not None and environment.has_cuda):
        return "cuda"
    return "mps" if device == "mps" else "cpu"


def plan_run(db: Database, config: FineTuneConfig, environment: Environment | None = None,
             measure_tokens: bool = True) -> RunPlan:
    """Validate ``config``; when valid, read the data and estimate memory and time.

    ``measure_tokens`` encodes up to 16 training samples with the model's processor for
    the mean sample length; without it the estimate assumes full-length samples.
    """
    issues = tuple(validate(config, validation_context(db, environment)))
    plan = RunPlan(config, issues, command_line(config))
    if errors(list(issues)):
        return plan

    from engine.inference.registry import get_model

    try:
        record = get_model(db, config.base_model)
        samples = load_samples(config.datasets, config.image_root, db)
        train, val = split_samples(samples, config.val_split, config.seed)
        mean = _mean_tokens(record.path, config, train) if measure_tokens else None
        facts = model_facts(record.path)
    except WorkbenchError as error:
        return RunPlan(config, issues, plan.command, problems=(str(error),))
    result = estimate(config, facts, len(train), mean, estimate_device(config, environment))
    return RunPlan(config, issues, plan.command, len(train), len(val), mean, result)


def _mean_tokens(path: str, config: FineTuneConfig, train: list) -> float | None:
    from engine.finetune.collator import ChatCollator
    from engine.finetune.model_setup import load_processor
    from engine.finetune.preview import mean_tokens

    collator = ChatCollator(load_processor(path), config.max_length, config.max_image_pixels)
    return mean_tokens(collator, train)
