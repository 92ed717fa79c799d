"""The pipeline dialog: create or open a pipeline run on a dataset, run chosen stages as a
job, and see the run's results.

The dialog takes plain data (``engine.pipeline.overview.PipelineChoices`` and
``PipelineOverview``) and emits ``runRequested(dict)`` with the run's name, dataset,
options (the keys ``engine.pipeline.runs.open_run`` takes), stages and export folder, and
``runChosen(name)`` when an existing run is picked. The application does the rest.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from widgets.job_progress import JobProgressView
from widgets.pipeline_stats import PipelineStatsView

STAGES = ("description", "extract-a", "extract-b", "fuse", "audit", "generate", "split", "export")
MODEL_FREE = ("description", "fuse", "generate", "split", "export")
MODEL_ROLES = (("run_a", "Model of run A"), ("run_b", "Model of run B"), ("audit", "Auditor"),
               ("paraphrase", "Paraphraser (optional)"))
SELECTIONS = ("largest", "lesion")
NEW_RUN = "(new run)"
NO_MODEL = ""


class PipelineDialog(QDialog):
    """Settings and stages of one pipeline run, its job's progress and its results."""

    runRequested = Signal(dict)
    runChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Instruction pipeline")
        self._runs: dict[str, Any] = {}

        self.existing = QComboBox(self, objectName="existing_runs")
        self.existing.currentTextChanged.connect(self._on_existing_changed)
        self.name = QLineEdit(self, objectName="pipeline_name")
        self.name.setPlaceholderText("default: <dataset>-pipeline")
        self.dataset = QComboBox(self, objectName="dataset")
        self.models: dict[str, QComboBox] = {}
        for role, _label in MODEL_ROLES:
            box = QComboBox(self, objectName=f"model_{role}")
            box.setEditable(True)
            box.setToolTip("A registered model, or replay:FILE.jsonl with recorded replies")
            self.models[role] = box
        self.seed = QSpinBox(self, objectName="seed")
        self.seed.setRange(0, 2**31 - 1)
        self.trap_share = self._share("trap_share", 0.2,
                                      "Share of five-option questions made trap items")
        self.benchmark_share = self._share("benchmark_share", 0.2,
                                           "Share of cases in the benchmark split")
        self.selection = QComboBox(self, objectName="selection")
        self.selection.addItems(SELECTIONS)
        self.selection.setToolTip("largest: the largest lesion slice of each volume; lesion: "
                                  "every k-th lesion slice")
        self.slice_step = QSpinBox(self, objectName="slice_step")
        self.slice_step.setRange(1, 1000)

        form = QFormLayout()
        form.addRow("Open run", self.existing)
        form.addRow("Run name", self.name)
        form.addRow("Dataset", self.dataset)
        for role, label in MODEL_ROLES:
            form.addRow(label, self.models[role])
        form.addRow("Seed", self.seed)
        form.addRow("Trap share", self.trap_share)
        form.addRow("Benchmark share", self.benchmark_share)
        form.addRow("Slice selection", self.selection)
        form.addRow("Slice step", self.slice_step)

        self.stage_boxes: dict[str, QCheckBox] = {}
        stages = QGroupBox("Stages to run (in pipeline order)", self)
        grid = QGridLayout(stages)
        for index, stage in enumerate(STAGES):
            label = stage if stage in MODEL_FREE else f"{stage} (model)"
            box = QCheckBox(label, stages, objectName=f"stage_{stage}")
            box.toggled.connect(self._on_stage_toggled)
            self.stage_boxes[stage] = box
            grid.addWidget(box, index // 4, index % 4)
        self.out = QLineEdit(self, objectName="export_folder")
        self.out.setPlaceholderText("folder of the export stage (instructions/ and benchmark/)")
        browse = QPushButton("Browse...", self)
        browse.clicked.connect(self._on_browse_clicked)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        grid.addLayout(out_row, 2, 0, 1, 4)

        self.error = QLabel(self, objectName="error", wordWrap=True)
        self.error.setStyleSheet("color: #b00020;")
        self.run_button = QPushButton("Run stages", self, objectName="run_stages")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run_button_clicked)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(close)
        self.progress = JobProgressView(self)
        self.stats = PipelineStatsView(self)

        settings = QWidget(self)
        column = QVBoxLayout(settings)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addWidget(stages)
        column.addWidget(self.error)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(settings)
        splitter.addWidget(self.stats)
        splitter.setSizes([440, 640])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.resize(1180, 760)
        self._on_stage_toggled()

    def _share(self, name: str, value: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self, objectName=name)
        box.setRange(0.0, 1.0)
        box.setSingleStep(0.05)
        box.setDecimals(3)
        box.setValue(value)
        box.setToolTip(tip + " (0 to 1)")
        return box

    # ------------------------------------------------------------ data from the app

    def set_choices(self, choices) -> None:  # noqa: ANN001 - a PipelineChoices
        """Fill datasets, models and existing runs; keeps the run shown."""
        current = self.existing.currentText()
        self._runs = {run.name: run for run in choices.runs}
        self.dataset.clear()
        self.dataset.addItems(list(choices.datasets))
        for box in self.models.values():
            text = box.currentText()
            box.clear()
            box.addItems([NO_MODEL, *choices.models])
            box.setEditText(text)
        self.existing.blockSignals(True)
        self.existing.clear()
        self.existing.addItems([NEW_RUN, *self._runs])
        self.existing.blockSignals(False)
        self.existing.setCurrentText(current if current in self._runs else NEW_RUN)

    def show_run(self, name: str) -> None:
        """Pick existing run ``name`` (its settings fill the form)."""
        self.existing.setCurrentText(name)

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    # ------------------------------------------------------------ values

    def stages(self) -> list[str]:
        return [stage for stage, box in self.stage_boxes.items() if box.isChecked()]

    def set_stages(self, stages: Sequence[str]) -> None:
        for stage, box in self.stage_boxes.items():
            box.setChecked(stage in stages)

    def request(self) -> dict[str, Any]:
        """Return the run request: name, dataset, options, stages and export folder."""
        dataset = self.dataset.currentText()
        return {
            "name": self.name.text().strip() or (f"{dataset}-pipeline" if dataset else ""),
            "dataset": dataset,
            "options": {
                "seed": self.seed.value(), "trap_share": self.trap_share.value(),
                "benchmark_share": self.benchmark_share.value(),
                "selection": self.selection.currentText(), "slice_step": self.slice_step.value(),
                "models": {role: box.currentText().strip() or None
                           for role, box in self.models.items()},
            },
            "stages": self.stages(),
            "out": self.out.text().strip() or None,
        }

    # ------------------------------------------------------------ slots

    def _on_existing_changed(self, name: str) -> None:
        run = self._runs.get(name)
        if run is None:
            self.name.clear()
            return
        config = run.config
        self.name.setText(run.name)
        self.dataset.setCurrentText(run.dataset)
        self.seed.setValue(int(config.get("seed", 0)))
        self.trap_share.setValue(float(config.get("trap_share", 0.2)))
        self.benchmark_share.setValue(float(config.get("benchmark_share", 0.2)))
        self.selection.setCurrentText(str(config.get("selection", "largest")))
        self.slice_step.setValue(int(config.get("slice_step", 1)))
        for role, box in self.models.items():
            box.setEditText(config.get("models", {}).get(role) or NO_MODEL)
        self.runChosen.emit(name)

    def _on_stage_toggled(self, *_args: Any) -> None:
        self.run_button.setEnabled(bool(self.stages()))
        self.out.setEnabled(self.stage_boxes["export"].isChecked())

    def _on_browse_clicked(self) -> None:
        dialog = QFileDialog(self, "Export folder", self.out.text())
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.fileSelected.connect(self.out.setText)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_run_button_clicked(self) -> None:
        request = self.request()
        if not request["dataset"] and request["name"] not in self._runs:
            self.show_error("Choose the dataset of the new run.")
            return
        if "export" in request["stages"] and not request["out"]:
            self.show_error("The export stage needs an output folder.")
            return
        self.show_error("")
        self.runRequested.emit(request)
