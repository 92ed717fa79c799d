"""Fine-tuning from the window: the dialog, the detached training process, the monitor dock,
re-attaching at start-up, and checkpoints.

Training runs in its own process (``engine.finetune.process``), which outlives the window.
The monitor polls :func:`engine.finetune.monitoring.read_snapshot` once a second on a
worker thread of its own, so a slow merge or preview never delays the curves.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QVBoxLayout, QWidget

from app.background import BackgroundTasks
from app.screen_fit import fit_to_screen
from engine.finetune import runs
from engine.finetune.export import merge_checkpoint, register_checkpoint
from engine.finetune.launching import dialog_inputs, preview_text, resume_training, start_training
from engine.finetune.monitoring import read_snapshot
from engine.finetune.planning import plan_run
from engine.finetune.process import reattach
from widgets.finetune_dialog import FineTuneDialog
from widgets.training_monitor import TrainingMonitor

log = logging.getLogger(__name__)

POLL_MS = 1000


class FineTuneController(QObject):
    """Owns the fine-tune dialog and the training monitor dock."""

    def __init__(self, window, open_dock, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self._open_dock = open_dock
        self.dialog: FineTuneDialog | None = None
        self.environment = None
        self.run_id: int | None = None
        self.snapshot = None
        self._last_metric_id = 0
        # The pre-tokenizer that llama.cpp's GGUF converter falls back to for a BPE tokenizer
        # it does not recognise, as the CLI's hidden --gguf-pre-tokenizer sets it. With None
        # such a conversion fails. Tokenizers trained locally, like the tests' ones, need it.
        self.gguf_pre_tokenizer: str | None = None
        self.tasks = BackgroundTasks("finetune", self)
        self.tasks.failed.connect(self._on_tasks_failed)
        self.polls = BackgroundTasks("training-monitor", self)
        self.polls.failed.connect(lambda _name, message: self.window.show_message(message))

        self.monitor = TrainingMonitor()
        self.run_box = QComboBox(objectName="training_runs")
        self.run_box.activated.connect(self._on_run_box_activated)
        container = QWidget()
        top = QHBoxLayout()
        top.addWidget(QLabel("Training run"))
        top.addWidget(self.run_box, 1)
        column = QVBoxLayout(container)
        column.setContentsMargins(2, 2, 2, 2)
        column.addLayout(top)
        column.addWidget(self.monitor, 1)
        self.dock = window.add_dock(container, "Training", Qt.DockWidgetArea.BottomDockWidgetArea,
                                    object_name="dock_Training")
        self.dock.hide()
        self.monitor.cancelRequested.connect(self.cancel)
        self.monitor.resumeRequested.connect(self.resume)
        self.monitor.registerRequested.connect(lambda step: self.register(step))
        self.monitor.mergeRequested.connect(lambda step, gguf: self.merge(step, gguf=gguf))

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    # ------------------------------------------------------------ dialog

    def open_dialog(self) -> None:
        """Open the fine-tune dialog once its inputs are read (the environment needs torch)."""
        if self.dialog is not None:
            self.dialog.show()
            self.dialog.raise_()
            return
        self.window.show_message("Reading models, instruction sets and this machine's GPUs...")
        self.tasks.run("fine-tune inputs", dialog_inputs, self.db, on_done=self._show_dialog)

    def _show_dialog(self, inputs) -> None:  # noqa: ANN001 - DialogInputs
        if self.dialog is not None:
            return
        self.environment = inputs.environment
        dialog = FineTuneDialog(inputs.models, inputs.instruction_sets, inputs.environment,
                                run_names=inputs.run_names, parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setModal(False)
        dialog.planRequested.connect(self._on_plan_requested)
        dialog.previewRequested.connect(self._on_preview_requested)
        dialog.startRequested.connect(self.start)
        dialog.destroyed.connect(self._on_dialog_destroyed)
        self.window.keep_dialog(dialog)
        self.dialog = dialog
        dialog.show()
        fit_to_screen(dialog, self.window)

    def _on_plan_requested(self, config) -> None:  # noqa: ANN001 - a FineTuneConfig
        if self.tasks.pending("plan"):
            return  # the dialog asks again after its next change
        self.tasks.run("plan", plan_run, self.db, config, self.environment,
                       on_done=lambda plan: self.dialog and self.dialog.show_plan(plan))

    def _on_preview_requested(self, config) -> None:  # noqa: ANN001 - a FineTuneConfig
        if self.dialog is not None:
            self.dialog.show_preview("Loading the processor and the first batch...")
        self.tasks.run("preview", preview_text, self.db, config,
                       on_done=lambda text: self.dialog and self.dialog.show_preview(text),
                       on_error=lambda text: self.dialog and self.dialog.show_preview(f"error: {text}"))

    def start(self, config) -> None:  # noqa: ANN001 - a FineTuneConfig
        """Create the run of ``config`` and start its detached process; follow it."""
        self.tasks.run("start training", start_training, self.db, config, self.environment,
                       on_done=self._on_started)

    def _on_started(self, run) -> None:  # noqa: ANN001 - a RunInfo
        self.window.show_message(f"Started training run {run.name} (pid {run.pid}); log: {run.log_path}")
        if self.dialog is not None:
            self.dialog.close()
        self.follow(run.id)

    def _on_dialog_destroyed(self, *_args) -> None:
        self.dialog = None

    # ------------------------------------------------------------ monitor

    def open_monitor(self) -> None:
        self._open_dock(self.dock)
        self.tasks.run("training runs", runs.list_runs, self.db, on_done=self._on_runs_listed)
        self._timer.start()
        self.poll()

    def follow(self, run_id: int) -> None:
        """Show run ``run_id`` in the monitor and poll it once a second."""
        if run_id != self.run_id:
            self.run_id = run_id
            self._last_metric_id = 0
            self.snapshot = None
        self.open_monitor()

    def reattach(self) -> None:
        """Follow trainings whose process outlived an earlier window (and mark dead ones failed)."""
        self.tasks.run("re-attach", reattach, self.db, on_done=self._on_reattached)

    def _on_reattached(self, alive: list) -> None:
        if not alive:
            return
        names = ", ".join(run.name for run in alive)
        self.window.show_message(f"Re-attached to running training: {names}.")
        self.follow(alive[-1].id)

    def poll(self) -> None:
        """Read the followed run's new metrics, checkpoints and log tail (one poll at a time)."""
        if self.run_id is None or self.polls.busy:
            return
        self.polls.run("training snapshot", read_snapshot, self.db, self.run_id, self._last_metric_id,
                       on_done=self._on_snapshot)

    def _on_snapshot(self, snapshot) -> None:  # noqa: ANN001 - a RunSnapshot
        if snapshot.run.id != self.run_id:
            return
        was_active = self.snapshot is not None and self.snapshot.run.is_active
        self.snapshot = snapshot
        self._last_metric_id = snapshot.last_metric_id
        self.monitor.apply_snapshot(snapshot)
        if was_active and not snapshot.run.is_active:
            self.window.show_message(f"Training run {snapshot.run.name} {snapshot.run.status}: "
                                     f"{snapshot.run.message or ''}".rstrip(": "))
            self.tasks.run("training runs", runs.list_runs, self.db, on_done=self._on_runs_listed)
        if not snapshot.run.is_active and not self.dock.isVisible():
            self._timer.stop()

    def _on_runs_listed(self, listed: list) -> None:
        self.run_box.blockSignals(True)
        self.run_box.clear()
        for run in listed:
            self.run_box.addItem(f"{run.name} [{run.status}]", run.id)
        index = self.run_box.findData(self.run_id)
        if index >= 0:
            self.run_box.setCurrentIndex(index)
        self.run_box.blockSignals(False)
        if self.run_id is None and listed:
            self.follow(listed[-1].id)

    def _on_run_box_activated(self, index: int) -> None:
        run_id = self.run_box.itemData(index)
        if run_id is not None:
            self.follow(int(run_id))

    # ------------------------------------------------------------ run actions

    def cancel(self) -> None:
        if self.run_id is not None:
            self.tasks.run("cancel training", runs.request_cancel, self.db, self.run_id,
                           on_done=lambda run: self.window.show_message(
                               f"Asked run {run.name} to stop; it saves a checkpoint at its next step."))

    def resume(self) -> None:
        if self.run_id is not None:
            self.tasks.run("resume training", resume_training, self.db, self.run_id, on_done=self._on_started)

    def register(self, step: int, name: str | None = None) -> None:
        """Register checkpoint ``step`` of the followed run as adapter ``name`` (asked for when None)."""
        if self.run_id is None or self.snapshot is None:
            return
        if name is None:
            self._ask_text("Register checkpoint as adapter", f"Adapter name for step {step}:",
                           f"{self.snapshot.run.name}-step{step}", lambda text: self.register(step, text))
            return
        self.tasks.run("register adapter", register_checkpoint, self.db, self.run_id, name, step,
                       on_done=lambda adapter: self._after_action(
                           f"Registered adapter {adapter.name} (sha256 {adapter.sha256[:12]}...)."))

    def merge(self, step: int, out: str | None = None, gguf: bool = False) -> None:
        """Merge checkpoint ``step`` into the base model in folder ``out`` (asked for when None).

        With ``gguf`` the merged folder is also converted to GGUF for llama.cpp.

        NOTE: the merge loads the base model in this process's worker thread and cannot be
        cancelled; the window stays responsive meanwhile.
        """
        if self.run_id is None:
            return
        if out is None:
            dialog = QFileDialog(self.window, f"New folder for the model merged at step {step}")
            dialog.setFileMode(QFileDialog.FileMode.AnyFile)
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.fileSelected.connect(lambda folder: self.merge(step, folder, gguf))
            dialog.finished.connect(dialog.deleteLater)
            self.window.keep_dialog(dialog)
            dialog.open()
            return
        conversion = " and converting it to GGUF" if gguf else ""
        self.window.show_message(f"Merging step {step} into the base model in {out}{conversion}...")
        self.tasks.run("merge", merge_checkpoint, self.db, self.run_id, out, step, gguf=gguf,
                       gguf_pre_tokenizer=self.gguf_pre_tokenizer, on_done=self._on_merged)

    def _on_merged(self, result) -> None:  # noqa: ANN001 - a MergeResult
        text = f"Merged model saved to {result.folder}."
        if result.gguf_files:
            text += f" GGUF: {', '.join(path.name for path in result.gguf_files)}."
        self._after_action(text)

    def _after_action(self, text: str) -> None:
        self.window.show_message(text)
        self.poll()

    def _ask_text(self, title: str, label: str, value: str, accepted) -> None:  # noqa: ANN001
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.setTextValue(value)
        dialog.textValueSelected.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        self.window.keep_dialog(dialog)
        dialog.open()

    # ------------------------------------------------------------ internals

    def _on_tasks_failed(self, name: str, message: str) -> None:
        self.window.show_message(message)
        if self.dialog is not None and name == "start training":
            # The preview box is the dialog's only free text area; the message goes there too.
            self.dialog.show_preview(f"error: {message}")

    def shutdown(self) -> None:
        self._timer.stop()
        self.tasks.shutdown()
        self.polls.shutdown()
