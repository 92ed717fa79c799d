"""Benchmark sessions from the window: the session dialog, its ``bench.run`` job, resume.

A session is created with :func:`engine.bench.runs.create_run` on a worker thread (it
builds the run's plan and checks the model), then answered by a ``bench.run`` job in the
worker process, exactly as ``neuroonco bench run --job`` does. The dialog follows the job
through the jobs controller's polls; resuming queues the run's failed or cancelled job
again, as ``neuroonco bench resume --job`` does.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal

from app.background import BackgroundTasks
from app.screen_fit import fit_to_screen
from engine.bench import run_catalog
from engine.bench.runs import RunSpec, create_run
from engine.bench.session_choices import (RUN_JOB_KIND, resume_target, run_job_params,
                                          session_choices, unfinished_runs)
from widgets.session_dialog import SessionDialog

log = logging.getLogger(__name__)


class SessionController(QObject):
    """Opens the session dialog and runs its sessions as jobs.

    ``runQueued(run_name, job_id)`` follows each submitted or resumed session.
    """

    runQueued = Signal(str, int)

    def __init__(self, window, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self.dialog: SessionDialog | None = None
        self.run_name: str | None = None
        self.job_id: int | None = None
        self.tasks = BackgroundTasks("bench-sessions", self)
        self.tasks.failed.connect(self._on_tasks_failed)
        window.jobs.statusesChanged.connect(self._on_jobs_statuses_changed)
        window.jobFinished.connect(self._on_window_job_finished)

    # ------------------------------------------------------------ dialog

    def open_dialog(self) -> SessionDialog:
        """Show the session dialog (one per window) with fresh choices."""
        created = self.dialog is None
        if created:
            dialog = SessionDialog(self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.startRequested.connect(self.start)
            dialog.resumeRequested.connect(self.resume)
            dialog.progress.cancelRequested.connect(self.window.jobs.cancel)
            dialog.progress.resumeRequested.connect(lambda _job_id: self._resume_current())
            dialog.destroyed.connect(self._on_dialog_destroyed)
            self.window.keep_dialog(dialog)
            self.dialog = dialog
        self.refresh_choices()
        self._show_progress()
        self.dialog.show()
        if created:
            fit_to_screen(self.dialog, self.window)
        self.dialog.raise_()
        return self.dialog

    def refresh_choices(self) -> None:
        self.tasks.run("session choices", session_choices, self.db, on_done=self._on_choices)
        self.tasks.run("unfinished runs", unfinished_runs, self.db, on_done=self._on_unfinished)

    def _on_choices(self, choices) -> None:  # noqa: ANN001 - a SessionChoices
        if self.dialog is not None:
            self.dialog.set_choices(choices)

    def _on_unfinished(self, names: list[str]) -> None:
        if self.dialog is not None:
            self.dialog.set_resumable_runs(names)

    def _on_dialog_destroyed(self, *_args) -> None:
        self.dialog = None

    # ------------------------------------------------------------ sessions

    def start(self, values: dict) -> None:
        """Create the run of ``values`` (``RunSpec`` fields) and submit its job."""
        spec = RunSpec(**values)
        self._show_error("")
        self.tasks.run("create run", create_run, self.db, spec, on_done=self.submit,
                       on_error=self._show_error)

    def resume(self, run_name: str) -> None:
        """Continue run ``run_name``: queue its failed or cancelled job again, or a new job."""
        self._show_error("")
        self.tasks.run("resume run", resume_target, self.db, run_name,
                       on_done=lambda target: self._resume_target(run_name, *target),
                       on_error=self._show_error)

    def _resume_current(self) -> None:
        if self.run_name is not None:
            self.resume(self.run_name)

    def _resume_target(self, run_name: str, run_id: int, job_id: int | None) -> None:
        if job_id is None:
            self.submit(run_id)
            return
        self.window.jobs.resume(job_id)
        self._follow(run_name, job_id)

    def submit(self, run_id: int) -> tuple[str, int]:
        """Queue the ``bench.run`` job of run ``run_id``; return (run name, job id)."""
        params = run_job_params(self.db, run_id)
        job_id = self.window.jobs.submit(RUN_JOB_KIND, params)
        run_catalog.attach_job(self.db, run_id, job_id)
        self._follow(params["run"], job_id)
        return params["run"], job_id

    def _follow(self, run_name: str, job_id: int) -> None:
        log.info("session %s runs as job %d", run_name, job_id)
        self.run_name, self.job_id = run_name, job_id
        self._show_progress()
        self.runQueued.emit(run_name, job_id)

    # ------------------------------------------------------------ progress

    def _show_progress(self) -> None:
        if self.dialog is None:
            return
        status = self.window.jobs.status(self.job_id) if self.job_id is not None else None
        self.dialog.progress.set_status(status, f"Run {self.run_name}" if self.run_name else "")

    def _show_error(self, text: str) -> None:
        if text:
            self.window.show_message(text)
        if self.dialog is not None:
            self.dialog.show_error(text)

    def _on_jobs_statuses_changed(self, _statuses: list) -> None:
        if self.job_id is not None:
            self._show_progress()

    def _on_window_job_finished(self, _job_id: int, kind: str, _state: str) -> None:
        if kind == RUN_JOB_KIND and self.dialog is not None:
            self.tasks.run("unfinished runs", unfinished_runs, self.db, on_done=self._on_unfinished)

    def _on_tasks_failed(self, name: str, message: str) -> None:
        self.window.show_message(f"{name}: {message}")

    def shutdown(self) -> None:
        self.tasks.shutdown()
