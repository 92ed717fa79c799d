"""The jobs panel: background jobs with their progress, time left and a Cancel button.

It takes job status rows (``engine.jobs.status.JobStatus`` or anything with the same
attributes) and emits ``cancelRequested(job_id)``; the application cancels the job.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

COLUMNS = ("Job", "Kind", "State", "Progress", "Time left", "Message", "")
ID, KIND, STATE, PROGRESS, ETA, MESSAGE, CANCEL = range(len(COLUMNS))
# QProgressBar stores C ints, so a larger count (the bytes of a model download) is drawn
# in steps of several units.
MAX_BAR_UNITS = 2**31 - 1


def show_count(bar: QProgressBar, done: int, total: int) -> None:
    """Set ``bar`` to ``done`` of ``total`` units (total > 0), with both counts as its text."""
    step = total // MAX_BAR_UNITS + 1
    bar.setRange(0, total // step)
    bar.setValue(min(done, total) // step)
    bar.setFormat(f"{done} / {total}")


def format_eta(seconds: float | None) -> str:
    """Return ``seconds`` as ``"1 h 05 min"``, ``"3 min 20 s"`` or ``"12 s"``; "" when unknown."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class JobsPanel(QWidget):
    """A table of jobs, newest first; active jobs have a Cancel button."""

    cancelRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(MESSAGE, QHeaderView.ResizeMode.Stretch)
        self._shown: list[tuple] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_jobs(self, jobs) -> None:
        """Show ``jobs``; rows are rebuilt only when something visible changed."""
        jobs = list(jobs)
        shown = [(job.job_id, job.kind, job.state, job.done, job.total, job.message,
                  format_eta(job.eta_seconds), job.cancel_requested) for job in jobs]
        if shown == self._shown:
            return
        self._shown = shown
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            self._set_text(row, ID, str(job.job_id))
            self._set_text(row, KIND, job.kind)
            state = "cancelling" if job.cancel_requested and job.state == "running" else job.state
            self._set_text(row, STATE, state)
            self._set_progress(row, job)
            self._set_text(row, ETA, format_eta(job.eta_seconds))
            self._set_text(row, MESSAGE, job.message or "")
            self._set_cancel(row, job)

    def row_of(self, job_id: int) -> int | None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, ID).text() == str(job_id):
                return row
        return None

    def text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def cancel_button(self, row: int) -> QPushButton | None:
        return self.table.cellWidget(row, CANCEL)

    def _set_text(self, row: int, column: int, text: str) -> None:
        self.table.setItem(row, column, QTableWidgetItem(text))

    def _set_progress(self, row: int, job) -> None:
        bar = self.table.cellWidget(row, PROGRESS)
        if not isinstance(bar, QProgressBar):
            bar = QProgressBar(self.table)
            self.table.setCellWidget(row, PROGRESS, bar)
        if job.total:
            show_count(bar, job.done, job.total)
        elif job.state == "running":
            bar.setRange(0, 0)  # busy indicator while the total is unknown
        else:
            bar.setRange(0, 1)
            bar.setValue(1 if job.state == "succeeded" else 0)
            bar.setFormat("")

    def _set_cancel(self, row: int, job) -> None:
        if job.state in ("queued", "running") and not job.cancel_requested:
            button = QPushButton("Cancel", self.table)
            button.clicked.connect(lambda _checked=False, job_id=job.job_id: self.cancelRequested.emit(job_id))
            self.table.setCellWidget(row, CANCEL, button)
        else:
            self.table.removeCellWidget(row, CANCEL)
