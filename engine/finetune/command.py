"""The ``neuroonco finetune start`` options of every setting, and a config's equivalent command.

One table (:data:`OPTIONS`) maps each :class:`FineTuneConfig` field to its flag and help
text; the CLI builds its parser from it and the dialog shows :func:`command_line`, so the
two cannot drift apart.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from engine.finetune.config import (DEFAULTS, METHODS, PRECISIONS, SCHEDULERS, DatasetSpec,
                                    FineTuneConfig, parse_targets)


@dataclass(frozen=True)
class Option:
    """One setting's command-line option: flag, value type, help text (with the unit)."""

    field: str
    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    boolean: bool = False


OPTIONS: tuple[Option, ...] = (
    Option("run_name", "--name", "name of the run (letters, digits, '.', '_', '-')"),
    Option("base_model", "--base-model", "registered transformers model to fine-tune"),
    Option("image_root", "--image-root", "folder the images of database instruction sets were "
                                         "exported to (relative image paths resolve against it)"),
    Option("method", "--method", "lora, or qlora (4-bit base; needs CUDA and bitsandbytes)",
           choices=METHODS),
    Option("lora_rank", "--lora-rank", "LoRA rank r", int),
    Option("lora_alpha", "--lora-alpha", "LoRA alpha (scale alpha / r)", float),
    Option("lora_dropout", "--lora-dropout", "dropout on the LoRA input, 0 to <1", float),
    Option("target_modules", "--target-modules", "comma-separated layer names that get LoRA, or "
                                                 "all-linear", parse_targets),
    Option("freeze_vision_tower", "--freeze-vision-tower", "keep the vision tower frozen (no LoRA "
                                                           "in it)", boolean=True),
    Option("freeze_projector", "--freeze-projector", "keep the multimodal projector frozen "
                                                     "(else it is trained in full)", boolean=True),
    Option("learning_rate", "--learning-rate", "peak learning rate", float),
    Option("scheduler", "--scheduler", "learning-rate schedule after warm-up", choices=SCHEDULERS),
    Option("warmup_ratio", "--warmup-ratio", "fraction of all optimizer steps spent warming up", float),
    Option("epochs", "--epochs", "passes over the training samples (fractions allowed)", float),
    Option("batch_size", "--batch-size", "samples per micro-batch and process", int),
    Option("gradient_accumulation", "--gradient-accumulation", "micro-batches per optimizer step", int),
    Option("max_length", "--max-length", "maximum tokens per sample, image tokens included", int),
    Option("max_image_pixels", "--max-image-pixels", "images are shrunk to at most this many "
                                                     "pixels (width x height)", int),
    Option("val_split", "--val-split", "fraction of samples held out for the validation loss", float),
    Option("seed", "--seed", "seed of the data order, validation split and LoRA initialisation", int),
    Option("precision", "--precision", "compute precision", choices=PRECISIONS),
    Option("gpus", "--gpus", "training processes: GPUs, or CPU processes with --device cpu", int),
    Option("device", "--device", "auto, cpu, cuda or cuda:N"),
    Option("weight_decay", "--weight-decay", "AdamW weight decay", float),
    Option("max_grad_norm", "--max-grad-norm", "gradient clipping norm (0: no clipping)", float),
    Option("logging_steps", "--logging-steps", "optimizer steps per metric row", int),
    Option("eval_steps", "--eval-steps", "optimizer steps between validation passes (0: only at "
                                         "checkpoints)", int),
    Option("save_steps", "--save-steps", "optimizer steps between checkpoints", int),
    Option("output_dir", "--output-dir", "folder for checkpoints and the log (default: the data "
                                         "folder's finetune/<name>)"),
)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per setting (defaults shown are the recipe's) and ``--dataset``."""
    parser.add_argument("--dataset", action="append", default=[], metavar="SOURCE",
                        help="training data: a JSONL file of {messages, images}, or "
                             "db:PIPELINE_RUN[:SPLIT] for a pipeline run's instruction set; repeatable")
    for option in OPTIONS:
        default = getattr(DEFAULTS, option.field)
        if option.field == "target_modules":
            default = ",".join(default)
        text = f"{option.help} (default: {default})" if default not in (None, "") else option.help
        if option.boolean:
            parser.add_argument(option.flag, dest=option.field, default=None,
                                action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(option.flag, dest=option.field, default=None, type=option.type,
                                choices=option.choices, help=text)


def config_from_args(args: argparse.Namespace) -> FineTuneConfig:
    """Build the settings from parsed options; options not given keep their defaults."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        value = getattr(args, option.field, None)
        if value is not None:
            values[option.field] = value
    values["datasets"] = tuple(DatasetSpec.parse(text) for text in args.dataset)
    return FineTuneConfig(**values)


def command_arguments(config: FineTuneConfig) -> list[str]:
    """Return the ``neuroonco finetune start`` arguments that recreate ``config``."""
    arguments = ["finetune", "start"]
    for spec in config.datasets:
        arguments += ["--dataset", spec.label()]
    for option in OPTIONS:
        value = getattr(config, option.field)
        if value is None or value == "":
            continue
        if option.boolean:
            arguments.append(option.flag if value else "--no-" + option.flag[2:])
        elif option.field == "target_modules":
            arguments += [option.flag, ",".join(value)]
        else:
            arguments += [option.flag, _text(value)]
    return arguments


def command_line(config: FineTuneConfig, program: str = "neuroonco") -> str:
    """Return the shell command that starts a run with ``config``."""
    return shlex.join([program, *command_arguments(config)])


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else repr(value)
    return str(value)
