"""The instruction pipeline from the window: create or open a run, run stages as a job, show
its results.

The run is created or reopened with :func:`engine.pipeline.runs.open_run`, and its stages
run as one ``pipeline.run`` job in the worker process, as ``neuroonco pipeline run --job``
does. Stages that call a model fail there with the model's one-line error.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, Qt

from app.background import BackgroundTasks
from app.screen_fit import fit_to_screen
from engine.pipeline.overview import pipeline_choices, pipeline_overview
from engine.pipeline.runs import open_run
from widgets.pipeline_dialog import PipelineDialog

log = logging.getLogger(__name__)

JOB_KIND = "pipeline.run"


class PipelineController(QObject):
    """Owns the pipeline dialog and follows its job."""

    def __init__(self, window, parent: QObject | None = None) -> None:  # noqa: ANN001 - a MainWindow
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self.dialog: PipelineDialog | None = None
        self.run_name: str | None = None
        self.job_id: int | None = None
        self.tasks = BackgroundTasks("pipeline", self)
        self.tasks.failed.connect(lambda name, message: self._show_error(f"{name}: {message}"))
        window.jobs.statusesChanged.connect(self._on_jobs_statuses_changed)
        window.jobFinished.connect(self._on_window_job_finished)

    def open_dialog(self) -> PipelineDialog:
        created = self.dialog is None
        if created:
            dialog = PipelineDialog(self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.runRequested.connect(self.run_stages)
            dialog.runChosen.connect(self.show_run)
            dialog.progress.cancelRequested.connect(self.window.jobs.cancel)
            dialog.progress.resumeRequested.connect(self.window.jobs.resume)
            dialog.destroyed.connect(self._on_dialog_destroyed)
            self.window.keep_dialog(dialog)
            self.dialog = dialog
        self.refresh_choices()
        self.dialog.show()
        if created:
            fit_to_screen(self.dialog, self.window)
        self.dialog.raise_()
        return self.dialog

    def refresh_choices(self) -> None:
        self.tasks.run("pipeline choices", pipeline_choices, self.db, on_done=self._on_choices)

    def show_run(self, name: str) -> None:
        """Show the results of pipeline run ``name``."""
        self.run_name = name
        self.tasks.run("pipeline results", pipeline_overview, self.db, name,
                       on_done=self._on_overview)

    def run_stages(self, request: dict) -> None:
        """Create or reopen the run of ``request`` and queue its stages as a job."""
        self._show_error("")
        out = os.path.abspath(request["out"]) if request.get("out") else None
        self.tasks.run("open pipeline run", open_run, self.db, request["name"], request["dataset"],
                       request["options"],
                       on_done=lambda run: self._submit(run.name, request["stages"], out),
                       on_error=self._show_error)

    def _submit(self, name: str, stages: list[str], out: str | None) -> None:
        job_id = self.window.jobs.submit(JOB_KIND, {"run": name, "stages": stages, "out": out})
        self.run_name, self.job_id = name, job_id
        log.info("pipeline run %s: stages %s queued as job %d", name, ",".join(stages), job_id)
        self._show_progress()
        self.refresh_choices()
        self.show_run(name)

    # ------------------------------------------------------------ results

    def _on_choices(self, choices) -> None:  # noqa: ANN001 - a PipelineChoices
        if self.dialog is not None:
            self.dialog.set_choices(choices)
            if self.run_name is not None:
                self.dialog.show_run(self.run_name)

    def _on_overview(self, overview) -> None:  # noqa: ANN001 - a PipelineOverview
        if self.dialog is not None and overview.name == self.run_name:
            self.dialog.stats.set_overview(overview)

    def _show_progress(self) -> None:
        if self.dialog is not None and self.job_id is not None:
            self.dialog.progress.set_status(self.window.jobs.status(self.job_id),
                                            f"Pipeline run {self.run_name}")

    def _show_error(self, text: str) -> None:
        if text:
            self.window.show_message(text)
        if self.dialog is not None:
            self.dialog.show_error(text)

    def _on_jobs_statuses_changed(self, _statuses: list) -> None:
        self._show_progress()

    def _on_window_job_finished(self, job_id: int, kind: str, state: str) -> None:
        if not kind.startswith("pipeline.") or self.run_name is None:
            return
        if job_id == self.job_id and state == "failed" and self.dialog is not None:
            status = self.window.jobs.status(job_id)
            self._show_error(status.message if status is not None else "the pipeline job failed")
        self.show_run(self.run_name)

    def _on_dialog_destroyed(self, *_args) -> None:
        self.dialog = None

    def shutdown(self) -> None:
        self.tasks.shutdown()
