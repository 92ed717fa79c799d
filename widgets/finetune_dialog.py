"""The fine-tune dialog: every setting of a LoRA run, checked as it is typed.

The dialog takes plain data (registered models, instruction sets, the machine's
environment) and never touches the database. Each field shows the message the engine's
``validate()`` gives for it; the equivalent command line updates live. The app handles
``planRequested`` by calling :meth:`FineTuneDialog.show_plan` (data counts and the memory
and time estimate) and ``previewRequested`` by calling :meth:`FineTuneDialog.show_preview`.
It computes both in a worker, because they read the data and load the processor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPlainTextEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget)

from engine.finetune.command import OPTIONS, command_line
from engine.finetune.config import ALL_LINEAR, DEFAULT_TARGETS, DatasetSpec, FineTuneConfig
from engine.finetune.validation import (ERROR, Environment, InstructionSetChoice, Issue,
                                        ModelChoice, ValidationContext, validate)
from widgets.finetune_fields import EDITOR_BY_FIELD, create_editor, read_value, write_value

if TYPE_CHECKING:
    from engine.finetune.planning import RunPlan

# Preset entries of the target-module box: label -> modules (None: keep what is typed).
TARGET_PRESETS: dict[str, tuple[str, ...] | None] = {
    "Recipe: q_proj, v_proj": DEFAULT_TARGETS,
    "Attention: q, k, v, o": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "All linear layers": (ALL_LINEAR,),
    "Custom": None,
}
GROUPS = (
    ("Model and data", ("run_name", "base_model", "datasets", "image_root", "val_split")),
    ("LoRA", ("method", "lora_rank", "lora_alpha", "lora_dropout", "target_modules",
              "freeze_vision_tower", "freeze_projector")),
    ("Training", ("learning_rate", "scheduler", "warmup_ratio", "epochs", "batch_size",
                  "gradient_accumulation", "max_length", "max_image_pixels", "seed",
                  "weight_decay", "max_grad_norm")),
    ("Machine and output", ("precision", "gpus", "device", "logging_steps", "eval_steps",
                            "save_steps", "output_dir")),
)
PLAN_DELAY_MS = 600
HELP = {option.field: option.help for option in OPTIONS}


class FineTuneDialog(QDialog):
    """Collects a :class:`FineTuneConfig`; emits ``startRequested`` with it.

    Signals carry a FineTuneConfig: ``startRequested`` when the user presses Start (only
    possible without errors), ``planRequested`` shortly after each change that leaves the
    settings valid and on "Estimate", ``previewRequested`` on "Preview first batch".
    """

    startRequested = Signal(object)
    planRequested = Signal(object)
    previewRequested = Signal(object)

    def __init__(self, models: Sequence[ModelChoice], instruction_sets: Sequence[InstructionSetChoice] = (),
                 environment: Environment | None = None, run_names: frozenset[str] = frozenset(),
                 config: FineTuneConfig | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a model")
        self._models = {model.name: model for model in models}
        self._context = ValidationContext(models=self._models, run_names=frozenset(run_names),
                                          environment=environment)
        self._editors: dict[str, QWidget] = {}
        self._messages: dict[str, QLabel] = {}
        self._parse_issues: dict[str, str] = {}
        self._issues: list[Issue] = []
        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(PLAN_DELAY_MS)
        self._plan_timer.timeout.connect(self._on_plan_timer_timeout)

        self._build(models, instruction_sets)
        self.set_config(config or FineTuneConfig())

    # ------------------------------------------------------------------ building

    def _build(self, models: Sequence[ModelChoice], instruction_sets: Sequence[InstructionSetChoice]) -> None:
        self._base_model = QComboBox(objectName="base_model")
        for model in models:
            if model.backend == "transformers":
                self._base_model.addItem(model.name, model.name)
        self._base_model.currentIndexChanged.connect(self._on_field_changed)
        self._datasets = QListWidget(objectName="datasets")
        self._datasets.setMaximumHeight(120)
        for choice in instruction_sets:
            item = QListWidgetItem(f"{choice.pipeline_run} / {choice.split} ({choice.samples} samples)")
            item.setData(Qt.ItemDataRole.UserRole, choice.label)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self._datasets.addItem(item)
        self._datasets.itemChanged.connect(self._on_field_changed)
        self._target_preset = QComboBox(objectName="target_preset")
        self._target_preset.addItems(list(TARGET_PRESETS))
        self._target_preset.currentTextChanged.connect(self._on_target_preset_changed)

        form_area = QWidget()
        form_layout = QVBoxLayout(form_area)
        for title, fields in GROUPS:
            group = QGroupBox(title)
            form = QFormLayout(group)
            for field in fields:
                form.addRow(EDITOR_BY_FIELD[field].label if field in EDITOR_BY_FIELD
                            else field.replace("_", " ").capitalize(), self._field_row(field))
            form_layout.addWidget(group)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_area)

        self._command = QPlainTextEdit(objectName="command", readOnly=True)
        self._command.setMaximumHeight(70)
        self._estimate = QLabel("Estimate: not computed yet", objectName="estimate", wordWrap=True)
        self._preview = QPlainTextEdit(objectName="preview", readOnly=True)
        self._preview.setPlaceholderText("The first training batch as the model sees it appears here.")
        self._summary = QLabel(objectName="summary", wordWrap=True)

        self._preview_button = QPushButton("Preview first batch")
        self._preview_button.clicked.connect(self._on_preview_button_clicked)
        self._estimate_button = QPushButton("Estimate")
        self._estimate_button.clicked.connect(self._on_estimate_button_clicked)
        self._start_button = QPushButton("Start", objectName="start")
        self._start_button.setDefault(True)
        self._start_button.clicked.connect(self._on_start_button_clicked)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self._preview_button, self._estimate_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self._start_button)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 3)
        layout.addWidget(QLabel("Equivalent command line:"))
        layout.addWidget(self._command)
        layout.addWidget(self._estimate)
        layout.addWidget(self._preview, 1)
        layout.addWidget(self._summary)
        layout.addLayout(buttons)
        self.resize(760, 900)

    def _field_row(self, field: str) -> QWidget:
        if field == "base_model":
            editor = self._base_model
        elif field == "datasets":
            editor = self._datasets_row()
        else:
            editor = create_editor(EDITOR_BY_FIELD[field], self._on_field_changed)
            self._editors[field] = editor
            if field in ("image_root", "output_dir"):
                editor = self._with_browse(editor, field)
            elif field == "target_modules":
                editor = self._pair(self._target_preset, editor)
        editor.setToolTip(HELP.get(field, ""))
        message = QLabel(objectName=f"{field}_message", wordWrap=True)
        message.setVisible(False)
        self._messages[field] = message
        row = QWidget()
        column = QVBoxLayout(row)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(editor)
        column.addWidget(message)
        return row

    def _datasets_row(self) -> QWidget:
        add = QPushButton("Add JSONL file…")
        add.clicked.connect(self._on_add_jsonl_clicked)
        remove = QPushButton("Remove file")
        remove.clicked.connect(self._on_remove_jsonl_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        row = QWidget()
        column = QVBoxLayout(row)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._datasets)
        column.addLayout(buttons)
        return row

    def _with_browse(self, editor: QWidget, field: str) -> QWidget:
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._on_browse_clicked(field))
        return self._pair(editor, browse)

    @staticmethod
    def _pair(first: QWidget, second: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(first, 1)
        layout.addWidget(second)
        return row

    # ------------------------------------------------------------------ values

    def set_config(self, config: FineTuneConfig) -> None:
        """Show ``config`` in the editors (without emitting per-field signals)."""
        for field, widget in self._editors.items():
            with QSignalBlocker(widget):
                write_value(widget, EDITOR_BY_FIELD[field], getattr(config, field))
        with QSignalBlocker(self._base_model):
            index = self._base_model.findData(config.base_model)
            if index < 0 and not config.base_model and self._base_model.count():
                index = 0
            self._base_model.setCurrentIndex(index)
        with QSignalBlocker(self._datasets):
            wanted = [spec.label() for spec in config.datasets]
            for row in range(self._datasets.count() - 1, -1, -1):
                item = self._datasets.item(row)
                if item.data(Qt.ItemDataRole.UserRole + 1):
                    self._datasets.takeItem(row)
            for row in range(self._datasets.count()):
                item = self._datasets.item(row)
                checked = item.data(Qt.ItemDataRole.UserRole) in wanted
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            for spec in config.datasets:
                if spec.kind == "jsonl":
                    self._append_jsonl(spec.label())
        self._on_field_changed()

    def config(self) -> FineTuneConfig:
        """Return the settings as shown; unparsable fields keep their defaults (see :meth:`issues`)."""
        values: dict[str, Any] = {}
        self._parse_issues = {}
        for field, widget in self._editors.items():
            value, problem = read_value(widget, EDITOR_BY_FIELD[field])
            if problem is not None:
                self._parse_issues[field] = problem
                continue
            values[field] = value
        values["base_model"] = self._base_model.currentData() or ""
        values["datasets"] = tuple(DatasetSpec.parse(label) for label in self._dataset_labels())
        return FineTuneConfig(**values)

    def add_jsonl(self, path: str) -> None:
        """Add a JSONL file to the training data."""
        self._append_jsonl(path)
        self._on_field_changed()

    def issues(self) -> list[Issue]:
        """Return the current problems: unparsable fields first, then the engine's validation."""
        return list(self._issues)

    def field_message(self, field: str) -> str:
        """Return the message shown under ``field`` ("" when it is fine)."""
        label = self._messages.get(field)
        return label.text() if label is not None and label.isVisibleTo(self) else ""

    def command_text(self) -> str:
        return self._command.toPlainText()

    # ------------------------------------------------------------------ results from the app

    def show_plan(self, plan: RunPlan) -> None:
        """Show data counts and the estimate of ``plan`` (or why there is none)."""
        if plan.problems:
            self._estimate.setText("Estimate unavailable: " + "; ".join(plan.problems))
            return
        if plan.estimate is None:
            self._estimate.setText("Estimate unavailable: fix the fields marked above")
            return
        counts = f"{plan.train_samples} training and {plan.val_samples} validation samples"
        if plan.mean_tokens:
            counts += f", mean {plan.mean_tokens:.0f} tokens"
        self._estimate.setText(f"{counts}. {plan.estimate.summary()}.")
        self._estimate.setToolTip("\n".join(plan.estimate.notes))

    def show_preview(self, text: str) -> None:
        self._preview.setPlainText(text)

    # ------------------------------------------------------------------ slots

    def _on_field_changed(self, *_args: Any) -> None:
        config = self.config()
        parsed = [Issue(field, message) for field, message in self._parse_issues.items()]
        engine = [issue for issue in validate(config, self._context)
                  if issue.field not in self._parse_issues]
        self._issues = parsed + engine
        by_field = {issue.field: issue for issue in self._issues}
        for field, label in self._messages.items():
            issue = by_field.get(field)
            label.setVisible(issue is not None)
            label.setText(issue.message if issue else "")
            color = "#b00020" if issue and issue.severity == ERROR else "#8a6d00"
            label.setStyleSheet(f"color: {color};")
        failed = [issue for issue in self._issues if issue.severity == ERROR]
        self._start_button.setEnabled(not failed)
        self._estimate_button.setEnabled(not failed)
        self._preview_button.setEnabled(not failed)
        self._summary.setText(f"{len(failed)} field(s) need attention" if failed else "Ready to start")
        self._command.setPlainText(command_line(config))
        with QSignalBlocker(self._target_preset):
            preset = next((label for label, modules in TARGET_PRESETS.items()
                           if modules == tuple(config.target_modules)), "Custom")
            self._target_preset.setCurrentText(preset)
        if not failed:
            self._plan_timer.start()
        else:
            self._plan_timer.stop()

    def _on_target_preset_changed(self, label: str) -> None:
        modules = TARGET_PRESETS.get(label)
        if modules is not None:
            write_value(self._editors["target_modules"], EDITOR_BY_FIELD["target_modules"], modules)

    def _on_plan_timer_timeout(self) -> None:
        self.planRequested.emit(self.config())

    def _on_estimate_button_clicked(self) -> None:
        self.planRequested.emit(self.config())

    def _on_preview_button_clicked(self) -> None:
        self.previewRequested.emit(self.config())

    def _on_start_button_clicked(self) -> None:
        if not any(issue.severity == ERROR for issue in self._issues):
            self.startRequested.emit(self.config())

    def _on_add_jsonl_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Training data (JSON Lines)", "",
                                              "JSON Lines (*.jsonl *.json)")
        if path:
            self.add_jsonl(path)

    def _on_remove_jsonl_clicked(self) -> None:
        item = self._datasets.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole + 1):
            self._datasets.takeItem(self._datasets.row(item))
            self._on_field_changed()

    def _on_browse_clicked(self, field: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, EDITOR_BY_FIELD[field].label)
        if folder:
            self._editors[field].setText(folder)

    # ------------------------------------------------------------------ helpers

    def _append_jsonl(self, path: str) -> None:
        with QSignalBlocker(self._datasets):
            item = QListWidgetItem(f"file: {path}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setData(Qt.ItemDataRole.UserRole + 1, True)  # marks a file entry (removable)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
            self._datasets.addItem(item)

    def _dataset_labels(self) -> list[str]:
        labels = []
        for row in range(self._datasets.count()):
            item = self._datasets.item(row)
            is_file = bool(item.data(Qt.ItemDataRole.UserRole + 1))
            if is_file or item.checkState() == Qt.CheckState.Checked:
                labels.append(item.data(Qt.ItemDataRole.UserRole))
        return labels
