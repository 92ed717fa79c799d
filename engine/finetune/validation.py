"""Checking fine-tuning settings field by field, for the dialog and the CLI alike.

:func:`validate` is pure: what it needs to know about the database (registered models,
existing run names) and the machine (CUDA devices, bitsandbytes) comes in a
:class:`ValidationContext`, so the dialog can validate on every keystroke. Checks that
need the data itself (image files, ``<image>`` counts) run when the data is loaded.
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidInputError
from engine.finetune.config import (ALL_LINEAR, DATABASE, JSONL, METHODS, PRECISIONS,
                                    SCHEDULERS, FineTuneConfig)

ERROR, WARNING = "error", "warning"
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
MAX_RANK = 1024
# Below 32 x 32 pixels no vision encoder sees a usable image (LLaMA-Factory's minimum).
MIN_IMAGE_PIXELS = 32 * 32
MIN_LENGTH = 16


@dataclass(frozen=True)
class Issue:
    """One problem with one field; ``severity`` is "error" (blocks the start) or "warning"."""

    field: str
    message: str
    severity: str = ERROR


@dataclass(frozen=True)
class ModelChoice:
    """What validation and the dialog need to know about a registered model."""

    name: str
    backend: str
    path: str | None = None
    family: str | None = None
    quantization: str | None = None


@dataclass(frozen=True)
class InstructionSetChoice:
    """A pipeline run's instruction samples of one split, offered as training data."""

    pipeline_run: str
    split: str
    samples: int

    @property
    def label(self) -> str:
        return f"db:{self.pipeline_run}:{self.split}"


@dataclass(frozen=True)
class Environment:
    """The training machine: CUDA devices, bf16 support, bitsandbytes."""

    cuda_devices: int = 0
    bf16_supported: bool = False
    bitsandbytes: bool = False

    @property
    def has_cuda(self) -> bool:
        return self.cuda_devices > 0


@dataclass(frozen=True)
class ValidationContext:
    """Facts from outside the settings; a None field skips the checks that need it."""

    models: dict[str, ModelChoice] | None = None
    run_names: frozenset[str] | None = None
    environment: Environment | None = None
    new_run: bool = True
    check_paths: bool = True


def detect_environment() -> Environment:
    """Return what this machine offers for training (imports torch)."""
    import torch

    devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    bf16 = bool(devices and torch.cuda.is_bf16_supported())
    return Environment(cuda_devices=devices, bf16_supported=bf16,
                       bitsandbytes=importlib.util.find_spec("bitsandbytes") is not None)


def is_prequantized(quantization: str | None) -> bool:
    """True for a checkpoint stored quantized (``gptq-4bit``, ``bitsandbytes-4bit``...)."""
    return bool(quantization) and quantization.endswith("bit")


def validate(config: FineTuneConfig, context: ValidationContext | None = None) -> list[Issue]:
    """Return every problem of ``config``, at most one per field, errors before warnings."""
    context = context or ValidationContext()
    issues: list[Issue] = []
    for check in (_run_fields, _model_fields, _data_fields, _lora_fields, _optimizer_fields,
                  _length_fields, _machine_fields, _interval_fields):
        issues.extend(check(config, context))
    seen: set[str] = set()
    unique = []
    for issue in sorted(issues, key=lambda item: item.severity != ERROR):
        if issue.field not in seen:
            seen.add(issue.field)
            unique.append(issue)
    return unique


def errors(issues: list[Issue]) -> list[Issue]:
    return [issue for issue in issues if issue.severity == ERROR]


def raise_for_errors(config: FineTuneConfig, context: ValidationContext | None = None) -> list[Issue]:
    """Raise InvalidInputError naming every invalid field; return the warnings."""
    issues = validate(config, context)
    failed = errors(issues)
    if failed:
        details = "; ".join(f"{issue.field}: {issue.message}" for issue in failed)
        raise InvalidInputError(f"invalid fine-tuning settings: {details}")
    return issues


# --------------------------------------------------------------------------- checks


def _run_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    issues = []
    name = config.run_name
    if not name:
        issues.append(Issue("run_name", "the run name is empty; enter a name such as glioma-lora-1"))
    elif not RUN_NAME.match(name):
        issues.append(Issue("run_name", f"run name '{name}' may only contain letters, digits, '.', "
                                        "'_' and '-' (at most 200, starting with a letter or digit)"))
    elif context.new_run and context.run_names is not None and name in context.run_names:
        issues.append(Issue("run_name", f"a training run named '{name}' already exists; choose "
                                        "another name"))
    if config.output_dir and context.new_run and context.check_paths:
        folder = Path(config.output_dir)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            issues.append(Issue("output_dir", f"output folder {folder} exists and is not empty; "
                                              "choose a new or empty folder"))
    return issues


def _model_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    if not config.base_model:
        return [Issue("base_model", "no base model chosen; pick a registered transformers model")]
    if context.models is None:
        return []
    model = context.models.get(config.base_model)
    if model is None:
        return [Issue("base_model", f"model '{config.base_model}' is not registered; register it "
                                    "with 'neuroonco models add NAME --backend transformers --path DIR'")]
    if model.backend != "transformers":
        return [Issue("base_model", f"model '{model.name}' uses the {model.backend} backend; "
                                    "fine-tuning needs a transformers model (a Hugging Face folder)")]
    if is_prequantized(model.quantization):
        return [Issue("base_model", f"model '{model.name}' is stored quantized ({model.quantization}); "
                                    "fine-tune its full-precision original (QLoRA quantizes at load time)")]
    return []


def _data_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    if not config.datasets:
        return [Issue("datasets", "no training data chosen; add a JSONL file or an instruction "
                                  "set from the database")]
    for spec in config.datasets:
        if spec.kind == JSONL:
            if not spec.path:
                return [Issue("datasets", "a JSONL dataset has no file path")]
            path = Path(spec.path)
            if context.check_paths and not path.is_file():
                return [Issue("datasets", f"dataset file {path} does not exist")]
            if path.suffix.lower() not in (".jsonl", ".json"):
                return [Issue("datasets", f"dataset file {path} is not JSON Lines (.jsonl); export "
                                          "the data as one {{\"messages\", \"images\"}} object a line")]
        elif spec.kind == DATABASE:
            if not spec.pipeline_run:
                return [Issue("datasets", "a database instruction set names no pipeline run; use "
                                          "db:PIPELINE_RUN[:SPLIT]")]
            if not spec.split:
                return [Issue("datasets", f"instruction set of '{spec.pipeline_run}' names no split")]
        else:
            return [Issue("datasets", f"dataset kind '{spec.kind}' is unknown; use {JSONL} or "
                                      f"{DATABASE}")]
    issues = []
    if config.image_root and context.check_paths and not Path(config.image_root).is_dir():
        issues.append(Issue("image_root", f"image folder {config.image_root} does not exist"))
    if not 0 <= config.val_split <= 0.5:
        issues.append(Issue("val_split", f"validation split {config.val_split} is outside 0 to 0.5; "
                                         "use 0 (no validation) or a fraction such as 0.05"))
    return issues


def _lora_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    issues = []
    if config.method not in METHODS:
        issues.append(Issue("method", f"method '{config.method}' is unknown; use lora or qlora"))
    elif config.method == "qlora" and context.environment is not None:
        env = context.environment
        if not env.has_cuda:
            issues.append(Issue("method", "QLoRA loads the base model in 4 bits with bitsandbytes, "
                                          "which needs a CUDA GPU; this machine has none, so use LoRA"))
        elif not env.bitsandbytes:
            issues.append(Issue("method", "QLoRA needs the bitsandbytes package; install it with "
                                          "'pip install bitsandbytes' or use LoRA"))
    if not _is_int(config.lora_rank) or not 1 <= config.lora_rank <= MAX_RANK:
        issues.append(Issue("lora_rank", f"rank {config.lora_rank} is outside 1 to {MAX_RANK}; "
                                         "8 or 16 suits most runs"))
    if not _finite(config.lora_alpha) or config.lora_alpha <= 0:
        issues.append(Issue("lora_alpha", f"alpha {config.lora_alpha} must be above 0; twice the "
                                          "rank is usual"))
    if not _finite(config.lora_dropout) or not 0 <= config.lora_dropout < 1:
        issues.append(Issue("lora_dropout", f"dropout {config.lora_dropout} must be in [0, 1)"))
    targets = tuple(config.target_modules)
    if not targets:
        issues.append(Issue("target_modules", "no target modules; use q_proj,v_proj or all-linear"))
    elif ALL_LINEAR in targets and len(targets) > 1:
        issues.append(Issue("target_modules", f"'{ALL_LINEAR}' is a preset; use it alone"))
    else:
        bad = [name for name in targets if name != ALL_LINEAR and not MODULE_NAME.match(name)]
        if bad:
            issues.append(Issue("target_modules", f"target module name '{bad[0]}' is invalid; use "
                                                  "layer names such as q_proj,v_proj"))
    return issues


def _optimizer_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    issues = []
    if not _finite(config.learning_rate) or not 0 < config.learning_rate <= 1:
        issues.append(Issue("learning_rate", f"learning rate {config.learning_rate} is outside "
                                             "(0, 1]; the recipe uses 1e-4"))
    elif config.learning_rate > 1e-2:
        issues.append(Issue("learning_rate", f"learning rate {config.learning_rate} is unusually "
                                             "high for LoRA (1e-5 to 1e-3 is usual)", WARNING))
    if config.scheduler not in SCHEDULERS:
        issues.append(Issue("scheduler", f"scheduler '{config.scheduler}' is unknown; use "
                                         f"{', '.join(SCHEDULERS)}"))
    if not _finite(config.warmup_ratio) or not 0 <= config.warmup_ratio < 1:
        issues.append(Issue("warmup_ratio", f"warm-up {config.warmup_ratio} must be a fraction in "
                                            "[0, 1) of all steps; the recipe uses 0.05"))
    if not _finite(config.epochs) or not 0 < config.epochs <= 1000:
        issues.append(Issue("epochs", f"epochs {config.epochs} is outside (0, 1000]"))
    if not _finite(config.weight_decay) or config.weight_decay < 0:
        issues.append(Issue("weight_decay", f"weight decay {config.weight_decay} must be 0 or more"))
    if not _finite(config.max_grad_norm) or config.max_grad_norm < 0:
        issues.append(Issue("max_grad_norm", f"maximum gradient norm {config.max_grad_norm} must be "
                                             "0 (no clipping) or more"))
    if not _is_int(config.seed) or not 0 <= config.seed < 2 ** 32:
        issues.append(Issue("seed", f"seed {config.seed} must be an integer from 0 to 2^32 - 1"))
    return issues


def _length_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    issues = []
    if not _is_int(config.batch_size) or config.batch_size < 1:
        issues.append(Issue("batch_size", f"batch size {config.batch_size} must be 1 or more"))
    if not _is_int(config.gradient_accumulation) or config.gradient_accumulation < 1:
        issues.append(Issue("gradient_accumulation", f"gradient accumulation "
                                                     f"{config.gradient_accumulation} must be 1 or more"))
    if not _is_int(config.max_length) or config.max_length < MIN_LENGTH:
        issues.append(Issue("max_length", f"maximum length {config.max_length} must be at least "
                                          f"{MIN_LENGTH} tokens (image tokens count too)"))
    if not _is_int(config.max_image_pixels) or config.max_image_pixels < MIN_IMAGE_PIXELS:
        issues.append(Issue("max_image_pixels", f"maximum image pixels {config.max_image_pixels} "
                                                f"must be at least {MIN_IMAGE_PIXELS} (32 x 32)"))
    return issues


def _machine_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    issues = []
    env = context.environment
    device = config.device or "auto"
    if not DEVICE.match(device):
        issues.append(Issue("device", f"device '{device}' is unknown; use auto, cpu, cuda or cuda:N"))
    elif env is not None and device.startswith("cuda") and not env.has_cuda:
        issues.append(Issue("device", f"device '{device}' needs a CUDA GPU; this machine has none"))
    on_gpu = device.startswith("cuda") or (device == "auto" and env is not None and env.has_cuda)

    if config.precision not in PRECISIONS:
        issues.append(Issue("precision", f"precision '{config.precision}' is unknown; use "
                                         f"{', '.join(PRECISIONS)}"))
    elif env is not None and config.precision == "bf16" and on_gpu and not env.bf16_supported:
        issues.append(Issue("precision", "this GPU has no bf16 support; use fp16 or fp32"))
    elif env is not None and config.precision != "fp32" and not on_gpu:
        issues.append(Issue("precision", f"{config.precision} on the CPU is slow and only for tests; "
                                         "fp32 is faster there", WARNING))

    if not _is_int(config.gpus) or config.gpus < 1:
        issues.append(Issue("gpus", f"number of GPUs {config.gpus} must be 1 or more"))
    elif config.gpus > 1 and env is not None and device != "cpu" and env.cuda_devices < config.gpus:
        issues.append(Issue("gpus", f"{config.gpus} GPUs requested but this machine has "
                                    f"{env.cuda_devices}; lower the number (or use device cpu to "
                                    "test several processes on the CPU)"))
    elif config.gpus > 1 and device.startswith("cuda:"):
        issues.append(Issue("gpus", f"device {device} names one GPU; use device cuda (or auto) "
                                    "with several GPUs"))
    return issues


def _interval_fields(config: FineTuneConfig, context: ValidationContext) -> list[Issue]:
    issues = []
    if not _is_int(config.logging_steps) or config.logging_steps < 1:
        issues.append(Issue("logging_steps", f"logging interval {config.logging_steps} must be 1 "
                                             "or more steps"))
    if not _is_int(config.eval_steps) or config.eval_steps < 0:
        issues.append(Issue("eval_steps", f"validation interval {config.eval_steps} must be 0 "
                                          "(only at checkpoints) or more steps"))
    if not _is_int(config.save_steps) or config.save_steps < 1:
        issues.append(Issue("save_steps", f"checkpoint interval {config.save_steps} must be 1 or "
                                          "more steps"))
    return issues


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
