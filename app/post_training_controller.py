"""The post-training benchmark: a registered adapter against its base model on one benchmark.

The two sessions (``engine.finetune.post_training.benchmark_plan``, identical except for
the adapter) are created with ``create_run`` on a worker thread and answered by
``bench.run`` jobs like any session. The comparison of the two opens when both jobs have
finished.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt

from app.background import BackgroundTasks
from app.screen_fit import fit_to_screen
from engine.bench.session_choices import session_choices
from engine.finetune.launching import create_post_training_sessions
from widgets.post_training_dialog import PostTrainingDialog

log = logging.getLogger(__name__)


class PostTrainingController(QObject):
    """Benchmarks the adapter of the run the training monitor shows."""

    def __init__(self, window, finetune, sessions, comparison,  # noqa: ANN001
                 parent: QObject | None = None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self.finetune = finetune
        self.sessions = sessions
        self.comparison = comparison
        self.jobs: set[int] = set()  # jobs of the sessions still running
        self.names: list[str] = []
        self.tasks = BackgroundTasks("post-training", self)
        self.tasks.failed.connect(lambda _name, message: self.window.show_message(message))
        window.jobFinished.connect(self._on_window_job_finished)

    def ask(self) -> None:
        """Ask for adapter and benchmark, then benchmark the adapter against its base."""
        snapshot = self.finetune.snapshot
        if snapshot is None:
            self.window.show_message("Choose a training run in the training monitor first.")
            self.finetune.open_monitor()
            return
        self.tasks.run("benchmarks", session_choices, self.db,
                       on_done=lambda choices: self._show_dialog(snapshot, choices))

    def _show_dialog(self, snapshot, choices) -> None:  # noqa: ANN001 - RunSnapshot, SessionChoices
        adapters = sorted({name for entry in snapshot.checkpoints for name in entry.adapters})
        dialog = PostTrainingDialog(snapshot.run.name, adapters, choices.benchmarks, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.startRequested.connect(lambda values: self.start(snapshot.run.id, values, dialog))
        self.window.keep_dialog(dialog)
        dialog.show()
        fit_to_screen(dialog, self.window)

    def start(self, run_id: int, values: dict, dialog: PostTrainingDialog | None = None) -> None:
        """Create the base and adapter sessions of training run ``run_id`` and queue both."""
        values = dict(values)
        adapter, benchmark = values.pop("adapter"), values.pop("benchmark")

        def failed(text: str) -> None:
            self.window.show_message(text)
            if dialog is not None:
                dialog.show_error(text)

        self.tasks.run("post-training sessions", create_post_training_sessions, self.db, run_id,
                       adapter, benchmark, **values, on_done=lambda ids: self._queue(ids, dialog),
                       on_error=failed)

    def _queue(self, run_ids: list[int], dialog: PostTrainingDialog | None) -> None:
        self.jobs.clear()
        self.names = []
        for run_id in run_ids:
            name, job_id = self.sessions.submit(run_id)
            self.jobs.add(job_id)
            self.names.append(name)
        log.info("post-training sessions %s queued", ", ".join(self.names))
        self.window.show_message("Queued the base and adapter sessions; the comparison opens when "
                                 "both have finished.")
        if dialog is not None:
            dialog.close()

    def _on_window_job_finished(self, job_id: int, _kind: str, state: str) -> None:
        if job_id not in self.jobs:
            return
        if state != "succeeded":
            self.window.show_message(f"A post-training session {state} (job {job_id}); see the Jobs panel.")
        self.jobs.discard(job_id)
        if not self.jobs:
            self.comparison.show_runs(self.names)

    def shutdown(self) -> None:
        self.tasks.shutdown()
