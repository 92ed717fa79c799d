"""The benchmark-session dialog: benchmark, model or baseline, adapter, setting, scoring
mode, prompt template, seed, limit and name; then the session's job with progress.

The dialog takes plain data (``engine.bench.session_choices.SessionChoices``) and never
touches the database. ``startRequested(dict)`` carries the ``RunSpec`` fields;
``resumeRequested(run_name)`` requests that a failed or cancelled run continue. The application
creates the run, submits its job and feeds :attr:`progress` with the job's status.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from widgets.job_progress import JobProgressView

SETTINGS = ("rejection-aware", "standard")
MODES = ("generate", "letter-prob")
NO_ADAPTER = "(none)"
DEFAULT_TEMPLATE = "(model default)"
MAX_SEED = 2**31 - 1


class SessionDialog(QDialog):
    """Collects one session's settings; shows its job and offers resume of earlier runs."""

    startRequested = Signal(dict)
    resumeRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run benchmark session")
        self._adapters: dict[str, tuple[str, ...]] = {}
        self._baselines: tuple[str, ...] = ()

        self.benchmark = QComboBox(self, objectName="benchmark")
        self.model = QComboBox(self, objectName="model")
        self.model.currentIndexChanged.connect(self._on_model_changed)
        self.adapter = QComboBox(self, objectName="adapter")
        self.setting = QComboBox(self, objectName="setting")
        self.setting.addItems(SETTINGS)
        self.setting.setToolTip("rejection-aware: option E present, trap items have gold E; "
                                "standard: E removed and trap items left out")
        self.mode = QComboBox(self, objectName="mode")
        self.mode.addItems(MODES)
        self.mode.setToolTip("generate: parse the letter from the text; letter-prob: the "
                             "option letters' probabilities (models only)")
        self.template = QComboBox(self, objectName="template")
        self.seed = QSpinBox(self, objectName="seed")
        self.seed.setRange(0, MAX_SEED)
        self.limit = QSpinBox(self, objectName="limit")
        self.limit.setRange(0, 10_000_000)
        self.limit.setSpecialValueText("all questions")
        self.limit.setToolTip("Answer only the first N questions (by item id, closed before open)")
        self.name = QLineEdit(self, objectName="run_name")
        self.name.setPlaceholderText("default: built from the configuration")

        form = QFormLayout()
        for label, editor in (("Benchmark", self.benchmark), ("Model or baseline", self.model),
                              ("Adapter", self.adapter), ("Setting", self.setting),
                              ("Scoring mode", self.mode), ("Prompt template", self.template),
                              ("Seed", self.seed), ("Limit", self.limit), ("Run name", self.name)):
            form.addRow(label, editor)

        self.error = QLabel(self, objectName="error", wordWrap=True)
        self.error.setStyleSheet("color: #b00020;")
        self.start_button = QPushButton("Start session", self, objectName="start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._on_start_button_clicked)

        self.progress = JobProgressView(self)
        self.resumable = QComboBox(self, objectName="resumable")
        self.resume_button = QPushButton("Resume run", self, objectName="resume_run")
        self.resume_button.clicked.connect(self._on_resume_button_clicked)
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.resumable, 1)
        resume_row.addWidget(self.resume_button)
        resume_box = QGroupBox("Failed, cancelled or unfinished runs", self)
        resume_box.setLayout(resume_row)

        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(resume_box)
        self.set_resumable_runs([])

    # ------------------------------------------------------------ data from the app

    def set_choices(self, choices) -> None:  # noqa: ANN001 - a SessionChoices
        """Fill the benchmark, model and template lists; keeps the current choices."""
        benchmark, model = self.benchmark.currentText(), self.model.currentData()
        self.benchmark.clear()
        self.benchmark.addItems(list(choices.benchmarks))
        self._baselines = tuple(choices.baselines)
        self._adapters = {option.name: tuple(option.adapters) for option in choices.models}
        self.model.blockSignals(True)
        self.model.clear()
        for name in choices.baselines:
            self.model.addItem(f"{name} (baseline)", name)
        for option in choices.models:
            self.model.addItem(f"{option.name} ({option.backend})", option.name)
        self.model.blockSignals(False)
        self.template.clear()
        self.template.addItem(DEFAULT_TEMPLATE, None)
        for template_id in choices.templates:
            self.template.addItem(template_id, template_id)
        if benchmark:
            self.benchmark.setCurrentText(benchmark)
        self.select_model(model if model is not None else "")
        self._on_model_changed()

    def set_resumable_runs(self, names: Sequence[str]) -> None:
        self.resumable.clear()
        self.resumable.addItems(list(names))
        self.resume_button.setEnabled(bool(names))

    def select_model(self, name: str) -> None:
        index = self.model.findData(name)
        if index >= 0:
            self.model.setCurrentIndex(index)

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    # ------------------------------------------------------------ values

    def spec_values(self) -> dict[str, Any]:
        """Return the ``RunSpec`` fields as chosen (None where the engine default applies)."""
        adapter = self.adapter.currentText()
        return {
            "benchmark": self.benchmark.currentText(),
            "model": self.model.currentData() or "",
            "adapter": None if adapter in ("", NO_ADAPTER) else adapter,
            "setting": self.setting.currentText(),
            "mode": self.mode.currentText(),
            "template": self.template.currentData(),
            "seed": self.seed.value(),
            "limit": self.limit.value() or None,
            "name": self.name.text().strip() or None,
        }

    # ------------------------------------------------------------ slots

    def _on_model_changed(self, *_args: Any) -> None:
        model = self.model.currentData()
        baseline = model in self._baselines
        self.adapter.clear()
        self.adapter.addItem(NO_ADAPTER)
        self.adapter.addItems(list(self._adapters.get(model, ())))
        # Baselines choose letters themselves: no adapter, no template, no letter probabilities.
        self.adapter.setEnabled(not baseline and self.adapter.count() > 1)
        self.template.setEnabled(not baseline)
        if baseline:
            self.template.setCurrentIndex(0)
            self.mode.setCurrentText("generate")
        self.mode.setEnabled(not baseline)

    def _on_start_button_clicked(self) -> None:
        values = self.spec_values()
        if not values["benchmark"]:
            self.show_error("No benchmark is imported; import one with File > Import benchmark.")
            return
        if not values["model"]:
            self.show_error("Choose a model or a baseline.")
            return
        self.show_error("")
        self.startRequested.emit(values)

    def _on_resume_button_clicked(self) -> None:
        name = self.resumable.currentText()
        if name:
            self.show_error("")
            self.resumeRequested.emit(name)
