"""One background job's progress: a bar, the time left, its message, Cancel and Resume.

It takes a job status row (``engine.jobs.status.JobStatus`` or anything with the same
attributes) and emits ``cancelRequested(job_id)`` or ``resumeRequested(job_id)``; the
application acts on them.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from widgets.jobs_panel import format_eta, show_count

RESUMABLE_STATES = ("failed", "cancelled")


class JobProgressView(QWidget):
    """Follows one job; hidden parts stay empty until :meth:`set_status` gets a job."""

    cancelRequested = Signal(int)
    resumeRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id: int | None = None
        self.state: str | None = None
        self.title = QLabel(self, objectName="job_title")
        self.bar = QProgressBar(self, objectName="job_bar")
        self.eta = QLabel(self, objectName="job_eta")
        self.message = QLabel(self, objectName="job_message", wordWrap=True)
        self.cancel_button = QPushButton("Cancel", self, objectName="job_cancel")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.resume_button = QPushButton("Resume", self, objectName="job_resume")
        self.resume_button.clicked.connect(self._on_resume_button_clicked)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.eta)
        row.addWidget(self.cancel_button)
        row.addWidget(self.resume_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.set_status(None)

    def set_status(self, status, title: str = "") -> None:  # noqa: ANN001 - a JobStatus or None
        """Show ``status`` (None: no job) under ``title``."""
        if status is None:
            self.job_id = self.state = None
            self.title.setText(title or "No job started yet.")
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
            self.bar.setFormat("")
            self.eta.clear()
            self.message.clear()
            self.cancel_button.setEnabled(False)
            self.resume_button.setEnabled(False)
            return
        self.job_id, self.state = status.job_id, status.state
        state = "cancelling" if status.cancel_requested and status.state == "running" else status.state
        self.title.setText(f"{title} - job {status.job_id}: {state}" if title
                           else f"Job {status.job_id} ({status.kind}): {state}")
        if status.total:
            show_count(self.bar, status.done, status.total)
        elif status.state == "running":
            self.bar.setRange(0, 0)  # busy indicator until the total is known
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if status.state == "succeeded" else 0)
            self.bar.setFormat(status.state)
        self.eta.setText(format_eta(status.eta_seconds))
        self.message.setText(status.message or "")
        self.cancel_button.setEnabled(status.active and not status.cancel_requested)
        self.resume_button.setEnabled(status.state in RESUMABLE_STATES)

    def _on_cancel_button_clicked(self) -> None:
        if self.job_id is not None:
            self.cancelRequested.emit(self.job_id)

    def _on_resume_button_clicked(self) -> None:
        if self.job_id is not None:
            self.resumeRequested.emit(self.job_id)
