"""Editors for the fine-tuning settings: one Qt widget per field, read and written as values.

A small table maps each :class:`~engine.finetune.config.FineTuneConfig` field to an editor
kind. Numeric spin boxes take a wide range on purpose, so the engine's ``validate()`` (not
the spin box) decides what is valid and explains why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget)

from engine.finetune.config import METHODS, PRECISIONS, SCHEDULERS

INT_MAX = 2 ** 31 - 1


@dataclass(frozen=True)
class FieldEditor:
    """Editor description of one field: widget kind, label and limits."""

    field: str
    label: str
    kind: str  # text, number, int, float, bool, choice
    choices: tuple[str, ...] = ()
    maximum: float = INT_MAX
    decimals: int = 3
    step: float = 1.0


EDITORS: tuple[FieldEditor, ...] = (
    FieldEditor("run_name", "Run name", "text"),
    FieldEditor("image_root", "Image folder", "text"),
    FieldEditor("method", "Method", "choice", METHODS),
    FieldEditor("lora_rank", "LoRA rank", "int", maximum=65536),
    FieldEditor("lora_alpha", "LoRA alpha", "float", maximum=1e6, decimals=2),
    FieldEditor("lora_dropout", "LoRA dropout", "float", maximum=10, decimals=3, step=0.05),
    FieldEditor("target_modules", "Target modules", "text"),
    FieldEditor("freeze_vision_tower", "Freeze vision tower", "bool"),
    FieldEditor("freeze_projector", "Freeze projector", "bool"),
    FieldEditor("learning_rate", "Learning rate", "number"),
    FieldEditor("scheduler", "Scheduler", "choice", SCHEDULERS),
    FieldEditor("warmup_ratio", "Warm-up (fraction of steps)", "float", maximum=10, step=0.01),
    FieldEditor("epochs", "Epochs", "float", maximum=1e5, decimals=2, step=0.5),
    FieldEditor("batch_size", "Batch size", "int"),
    FieldEditor("gradient_accumulation", "Gradient accumulation", "int"),
    FieldEditor("max_length", "Maximum length (tokens)", "int", step=256),
    FieldEditor("max_image_pixels", "Maximum image pixels", "int", step=1024),
    FieldEditor("val_split", "Validation split", "float", maximum=1, step=0.01),
    FieldEditor("seed", "Seed", "int"),
    FieldEditor("precision", "Precision", "choice", PRECISIONS),
    FieldEditor("gpus", "GPUs", "int", maximum=1024),
    FieldEditor("device", "Device", "choice", ("auto", "cpu", "cuda")),
    FieldEditor("weight_decay", "Weight decay", "float", maximum=1e3, step=0.01),
    FieldEditor("max_grad_norm", "Maximum gradient norm", "float", maximum=1e6, step=0.5),
    FieldEditor("logging_steps", "Log every (steps)", "int"),
    FieldEditor("eval_steps", "Validate every (steps)", "int"),
    FieldEditor("save_steps", "Checkpoint every (steps)", "int"),
    FieldEditor("output_dir", "Output folder", "text"),
)
EDITOR_BY_FIELD = {editor.field: editor for editor in EDITORS}


def create_editor(spec: FieldEditor, on_change: Callable[[], None]) -> QWidget:
    """Return the widget for ``spec`` with ``on_change`` connected to its edit signal."""
    if spec.kind in ("text", "number"):
        widget: QWidget = QLineEdit()
        widget.textChanged.connect(on_change)
    elif spec.kind == "int":
        widget = QSpinBox()
        widget.setRange(-1, int(spec.maximum))
        widget.setSingleStep(int(spec.step))
        widget.valueChanged.connect(on_change)
    elif spec.kind == "float":
        widget = QDoubleSpinBox()
        widget.setDecimals(spec.decimals)
        widget.setRange(-1.0, spec.maximum)
        widget.setSingleStep(spec.step)
        widget.valueChanged.connect(on_change)
    elif spec.kind == "bool":
        widget = QCheckBox()
        widget.toggled.connect(on_change)
    else:
        widget = QComboBox()
        widget.addItems(list(spec.choices))
        widget.setEditable(spec.field == "device")
        widget.currentTextChanged.connect(on_change)
    widget.setObjectName(spec.field)
    return widget


def write_value(widget: QWidget, spec: FieldEditor, value: Any) -> None:
    """Show ``value`` in ``widget`` (callers block its signals)."""
    if spec.field == "target_modules":
        widget.setText(",".join(value))
    elif spec.kind == "text":
        widget.setText("" if value is None else str(value))
    elif spec.kind == "number":
        widget.setText(f"{value:g}")
    elif spec.kind == "int":
        widget.setValue(int(value))
    elif spec.kind == "float":
        widget.setValue(float(value))
    elif spec.kind == "bool":
        widget.setChecked(bool(value))
    else:
        widget.setCurrentText(str(value))


def read_value(widget: QWidget, spec: FieldEditor) -> tuple[Any, str | None]:
    """Return (value, parse error message or None) of ``widget``."""
    if spec.field == "target_modules":
        return tuple(part.strip() for part in widget.text().split(",") if part.strip()), None
    if spec.kind == "text":
        text = widget.text().strip()
        if spec.field in ("image_root", "output_dir"):
            return (text or None), None
        return text, None
    if spec.kind == "number":
        text = widget.text().strip()
        try:
            return float(text), None
        except ValueError:
            return None, f"'{text}' is not a number; write it like 1e-4 or 0.0001"
    if spec.kind == "int":
        return widget.value(), None
    if spec.kind == "float":
        return widget.value(), None
    if spec.kind == "bool":
        return widget.isChecked(), None
    return widget.currentText().strip(), None
