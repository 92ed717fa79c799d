"""The training monitor: live loss and learning-rate curves, progress, log tail, checkpoints.

The widget shows plain records (:mod:`engine.finetune.records`) that the app reads with
``engine.finetune.monitoring.read_snapshot`` on a timer; it never reads the database. Its
buttons only emit signals: the app cancels, resumes, registers or merges.
"""

from __future__ import annotations

import math
from typing import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit,
                               QProgressBar, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from engine.finetune.records import (CANCELLED, FAILED, CheckpointEntry, MetricPoint, RunInfo,
                                     RunSnapshot)

LOG_LINES = 2000


def format_eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours} h {minutes:02d} min"
    elif minutes:
        text = f"{minutes} min {secs:02d} s"
    else:
        text = f"{secs} s"
    return f"about {text} left"


class TrainingMonitor(QWidget):
    """Follows one training run.

    Feed it with :meth:`apply_snapshot` (or the finer :meth:`show_run`,
    :meth:`add_metrics`, :meth:`set_progress`, :meth:`set_log`, :meth:`set_checkpoints`).
    ``registerRequested`` carries the selected checkpoint's step; ``mergeRequested`` carries
    the step and whether the "Also write GGUF" box is checked.
    """

    cancelRequested = Signal()
    resumeRequested = Signal()
    registerRequested = Signal(int)
    mergeRequested = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run_id: int | None = None
        self._points: dict[int, MetricPoint] = {}
        self._checkpoints: list[CheckpointEntry] = []

        self._title = QLabel(objectName="title")
        self._status = QLabel(objectName="status", wordWrap=True)
        self._progress = QProgressBar(objectName="progress")
        self._eta = QLabel(objectName="eta")
        self._cancel = QPushButton("Cancel run", objectName="cancel")
        self._cancel.clicked.connect(self.cancelRequested)
        self._resume = QPushButton("Resume", objectName="resume")
        self._resume.clicked.connect(self.resumeRequested)

        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.addLegend()
        self._loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), name="training")
        self._val_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#d62728", width=2), symbol="o",
                                              symbolSize=6, symbolBrush="#d62728", name="validation")
        self.lr_plot = pg.PlotWidget(title="Learning rate")
        self.lr_plot.setLabel("bottom", "step")
        self._lr_curve = self.lr_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2))

        self._log = QPlainTextEdit(objectName="log", readOnly=True)
        self._log.setMaximumBlockCount(LOG_LINES)
        self._table = QTableWidget(0, 3, objectName="checkpoints")
        self._table.setHorizontalHeaderLabels(["Step", "Validation loss", "Adapters"])
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self._register = QPushButton("Register as adapter…", objectName="register")
        self._register.clicked.connect(self._on_register_clicked)
        self._merge = QPushButton("Merge into base…", objectName="merge")
        self._merge.clicked.connect(self._on_merge_clicked)
        self._merge_gguf = QCheckBox("Also write GGUF", objectName="merge_gguf")
        self._merge_gguf.setToolTip("Convert the merged model to GGUF for llama.cpp: model-f16.gguf, and "
                                    "mmproj-f16.gguf where the converter supports the architecture")

        self._layout()
        self._update_buttons(None)

    def _layout(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self._title, 1)
        header.addWidget(self._cancel)
        header.addWidget(self._resume)

        progress = QHBoxLayout()
        progress.addWidget(self._progress, 1)
        progress.addWidget(self._eta)

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.lr_plot)

        checkpoint_buttons = QHBoxLayout()
        checkpoint_buttons.addStretch(1)
        checkpoint_buttons.addWidget(self._register)
        checkpoint_buttons.addWidget(self._merge_gguf)
        checkpoint_buttons.addWidget(self._merge)
        checkpoints = QWidget()
        column = QVBoxLayout(checkpoints)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._table)
        column.addLayout(checkpoint_buttons)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self._log)
        lower.addWidget(checkpoints)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(plots)
        body.addWidget(lower)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self._status)
        layout.addLayout(progress)
        layout.addWidget(body, 1)

    # ------------------------------------------------------------------ feeding

    def apply_snapshot(self, snapshot: RunSnapshot) -> None:
        """Show everything of one poll: run state, new metric rows, checkpoints, log, ETA."""
        self.show_run(snapshot.run)
        self.add_metrics(snapshot.metrics)
        self.set_progress(snapshot.run.step, snapshot.run.total_steps, snapshot.eta_seconds)
        self.set_checkpoints(snapshot.checkpoints)
        self.set_log(snapshot.log_tail)

    def show_run(self, run: RunInfo) -> None:
        """Show ``run``'s name and status; a different run clears the curves first."""
        if run.id != self._run_id:
            self._run_id = run.id
            self._points = {}
            self._redraw()
        self._title.setText(f"<b>{run.name}</b> — {run.base_model or 'base model removed'}")
        state = "cancelling" if run.cancel_requested and run.is_active else run.status
        self._status.setText(f"{state}: {run.message or ''}")
        self._cancel.setEnabled(run.is_active and not run.cancel_requested)
        self._resume.setEnabled(run.status in (CANCELLED, FAILED))

    def add_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Add metric rows (a row for a step already shown replaces it) and redraw."""
        for point in points:
            self._points[point.step] = point
        if points:
            self._redraw()

    def set_metrics(self, points: Sequence[MetricPoint]) -> None:
        self._points = {point.step: point for point in points}
        self._redraw()

    def set_progress(self, step: int, total: int | None, eta_seconds: float | None) -> None:
        self._progress.setRange(0, max(total or 0, 1))
        self._progress.setValue(min(step, total or step))
        self._progress.setFormat(f"step {step} / {total}" if total else f"step {step}")
        self._eta.setText(format_eta(eta_seconds))

    def set_log(self, text: str) -> None:
        if text != self._log.toPlainText():
            self._log.setPlainText(text)
            self._log.verticalScrollBar().setValue(self._log.verticalScrollBar().maximum())

    def set_checkpoints(self, entries: Sequence[CheckpointEntry]) -> None:
        """List checkpoints with their validation loss; keeps the selected step selected."""
        selected = self.selected_step()
        self._checkpoints = list(entries)
        self._table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            loss = "-" if entry.val_loss is None else f"{entry.val_loss:.4f}"
            for column, text in enumerate((str(entry.step), loss, ", ".join(entry.adapters))):
                self._table.setItem(row, column, QTableWidgetItem(text))
            if entry.step == selected:
                self._table.selectRow(row)
        self._update_buttons(self.selected_step())

    # ------------------------------------------------------------------ reading

    def selected_step(self) -> int | None:
        rows = self._table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._checkpoints):
            return None
        return self._checkpoints[rows[0].row()].step

    def select_checkpoint(self, step: int) -> None:
        for row, entry in enumerate(self._checkpoints):
            if entry.step == step:
                self._table.selectRow(row)

    def curve_data(self) -> dict[str, tuple[list[float], list[float]]]:
        """Return the (x, y) data of the loss, validation-loss and learning-rate curves."""
        def data(curve: pg.PlotDataItem) -> tuple[list[float], list[float]]:
            xs, ys = curve.getData()
            return ([] if xs is None else list(xs)), ([] if ys is None else list(ys))

        return {"loss": data(self._loss_curve), "val_loss": data(self._val_curve),
                "learning_rate": data(self._lr_curve)}

    # ------------------------------------------------------------------ internals

    def _redraw(self) -> None:
        points = [self._points[step] for step in sorted(self._points)]
        train = [(p.step, p.loss) for p in points if p.loss is not None]
        val = [(p.step, p.val_loss) for p in points if p.val_loss is not None]
        rate = [(p.step, p.learning_rate) for p in points if p.learning_rate is not None]
        for curve, pairs in ((self._loss_curve, train), (self._val_curve, val), (self._lr_curve, rate)):
            curve.setData([x for x, _ in pairs], [y for _, y in pairs])

    def _update_buttons(self, step: int | None) -> None:
        self._register.setEnabled(step is not None)
        self._merge.setEnabled(step is not None)

    def _on_table_selection_changed(self) -> None:
        self._update_buttons(self.selected_step())

    def _on_register_clicked(self) -> None:
        step = self.selected_step()
        if step is not None:
            self.registerRequested.emit(step)

    def _on_merge_clicked(self) -> None:
        step = self.selected_step()
        if step is not None:
            self.mergeRequested.emit(step, self._merge_gguf.isChecked())

