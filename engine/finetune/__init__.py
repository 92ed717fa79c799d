"""Local LoRA / QLoRA fine-tuning of registered transformers models.

A run is a ``training_run`` row plus a detached process (``python -m
engine.finetune.runner``) that trains, writes metrics and checkpoints to the database and
survives the GUI. Settings live in :class:`FineTuneConfig` and are checked by
:func:`validate`, which the dialog and the CLI share. Heavy libraries (torch,
transformers, peft) load only inside the functions that train, merge or preview.
"""

from engine.finetune.config import DatasetSpec, FineTuneConfig
from engine.finetune.validation import Environment, Issue, ModelChoice, ValidationContext, validate

__all__ = ["DatasetSpec", "Environment", "FineTuneConfig", "Issue", "ModelChoice",
           "ValidationContext", "validate"]
