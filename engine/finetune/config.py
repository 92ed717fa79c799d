"""The settings of one fine-tuning run: every field of the fine-tune dialog and the CLI.

Defaults follow the published NeuroOnco-GPT recipe (LoRA on q_proj and v_proj, learning
rate 1e-4, cosine schedule, 5 % warm-up, one epoch, bf16) and LLaMA-Factory's defaults for
what the recipe leaves open (rank 8, alpha 16, dropout 0, batch size 2, gradient
accumulation 8, maximum gradient norm 1.0, seed 42, checkpoints every 100 steps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from engine.errors import InvalidInputError
from engine.inference.images import DEFAULT_MAX_PIXELS

METHODS = ("lora", "qlora")
SCHEDULERS = ("cosine", "linear", "constant")
PRECISIONS = ("bf16", "fp16", "fp32")
# The target-module preset that puts LoRA on every linear layer of the language model
# (and of the vision tower when it is not frozen), never on the output layer.
ALL_LINEAR = "all-linear"
DEFAULT_TARGETS = ("q_proj", "v_proj")
JSONL, DATABASE = "jsonl", "database"
DB_PREFIX = "db:"


@dataclass(frozen=True)
class DatasetSpec:
    """One training data source.

    ``jsonl``: a JSON Lines file of ``{"messages": [...], "images": [...]}`` objects whose
    relative image paths resolve against the file's folder. ``database``: the instruction
    samples of a pipeline run with the given split (InstructionSample rows).
    """

    kind: str
    path: str | None = None
    pipeline_run: str | None = None
    split: str = "train"

    @classmethod
    def parse(cls, text: str) -> DatasetSpec:
        """Read ``db:PIPELINE_RUN[:SPLIT]`` or a JSONL file path."""
        text = text.strip()
        if text.startswith(DB_PREFIX):
            name, _, split = text[len(DB_PREFIX):].partition(":")
            return cls(kind=DATABASE, pipeline_run=name, split=split or "train")
        return cls(kind=JSONL, path=text)

    def label(self) -> str:
        """Return the text form that :meth:`parse` reads."""
        if self.kind == DATABASE:
            return f"{DB_PREFIX}{self.pipeline_run}:{self.split}"
        return str(self.path)


@dataclass(frozen=True)
class FineTuneConfig:
    """All settings of a LoRA / QLoRA run.

    Units: ``learning_rate`` per optimizer step; ``warmup_ratio`` a fraction of all
    optimizer steps; ``epochs`` passes over the training samples (fractions allowed);
    ``batch_size`` samples per process per micro-batch; ``max_length`` tokens, image
    tokens included; ``max_image_pixels`` width x height after the shared image-size
    policy; ``val_split`` the fraction of samples held out for the validation loss;
    ``gpus`` the number of training processes (GPUs; CPU processes with ``device="cpu"``);
    ``eval_steps`` / ``save_steps`` / ``logging_steps`` optimizer steps (``eval_steps`` 0:
    validate only at checkpoints).
    """

    run_name: str = ""
    base_model: str = ""
    datasets: tuple[DatasetSpec, ...] = ()
    image_root: str | None = None
    method: str = "lora"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    freeze_vision_tower: bool = True
    freeze_projector: bool = True
    learning_rate: float = 1e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    epochs: float = 1.0
    batch_size: int = 2
    gradient_accumulation: int = 8
    max_length: int = 2048
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    val_split: float = 0.05
    seed: int = 42
    precision: str = "bf16"
    gpus: int = 1
    device: str = "auto"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    logging_steps: int = 1
    eval_steps: int = 100
    save_steps: int = 100
    output_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values (stored in ``training_run.config``)."""
        values = asdict(self)
        values["datasets"] = [asdict(spec) for spec in self.datasets]
        values["target_modules"] = list(self.target_modules)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FineTuneConfig:
        """Build settings from :meth:`to_dict` output; unknown keys raise InvalidInputError."""
        values = dict(values)
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInputError(f"unknown fine-tuning setting(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(sorted(known))}")
        if "datasets" in values:
            values["datasets"] = tuple(
                spec if isinstance(spec, DatasetSpec) else DatasetSpec(**spec)
                for spec in values["datasets"] or ())
        if "target_modules" in values:
            values["target_modules"] = tuple(values["target_modules"] or ())
        return cls(**values)

    def with_values(self, **changes: Any) -> FineTuneConfig:
        return replace(self, **changes)

    @property
    def all_linear(self) -> bool:
        return tuple(self.target_modules) == (ALL_LINEAR,)


def field_names() -> list[str]:
    return [item.name for item in fields(FineTuneConfig)]


DEFAULTS = FineTuneConfig()
# The fields a user most often changes, with their recipe values, for docs and the dialog.
RECIPE = {name: getattr(DEFAULTS, name) for name in (
    "method", "lora_rank", "lora_alpha", "lora_dropout", "target_modules", "learning_rate",
    "scheduler", "warmup_ratio", "epochs", "precision")}


def parse_targets(text: str) -> tuple[str, ...]:
    """Split a comma-separated target-module list; ``all-linear`` selects the preset."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
