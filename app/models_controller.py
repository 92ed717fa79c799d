"""The model registry from the window: list, add, remove, hash, and API keys of HTTP models.

A local model is registered without hashing: ``add_model(compute_hash=False)`` checks its
files quickly on a worker thread. A ``models.hash`` job then hashes its weights with
progress and Cancel, as ``neuroonco models add --hash-in-background`` does. API
keys go to the OS keyring (:mod:`engine.inference.api_keys`), never to the database or the
log.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from app.background import BackgroundTasks
from app.screen_fit import fit_to_screen
from engine.inference.api_keys import store_api_key
from engine.inference.registry import add_model, list_models, remove_model
from widgets.model_registry_view import ModelRegistryWindow

log = logging.getLogger(__name__)

HASH_JOB = "models.hash"


class ModelsController(QObject):
    """Owns the model registry window and follows its hash jobs."""

    def __init__(self, window, parent: QObject | None = None) -> None:  # noqa: ANN001 - a MainWindow
        super().__init__(parent or window)
        self.window = window
        self.db = window.db
        self.view: ModelRegistryWindow | None = None
        self.job_id: int | None = None
        self.job_model: str | None = None
        self.tasks = BackgroundTasks("models", self)
        self.tasks.failed.connect(lambda _name, message: self._show_status(message))
        window.jobs.statusesChanged.connect(lambda _statuses: self._show_progress())
        window.jobFinished.connect(self._on_window_job_finished)

    def open_window(self) -> ModelRegistryWindow:
        created = self.view is None
        if created:
            view = ModelRegistryWindow(self.window)
            view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            view.addRequested.connect(self.add)
            view.removeRequested.connect(lambda name: self.remove(name))
            view.hashRequested.connect(self.hash)
            view.apiKeyRequested.connect(lambda name: self.set_api_key(name))
            view.progress.cancelRequested.connect(self.window.jobs.cancel)
            view.progress.resumeRequested.connect(lambda _job_id: self.job_model and self.hash(self.job_model))
            view.destroyed.connect(self._on_view_destroyed)
            self.window.keep_dialog(view)
            self.view = view
        self.refresh()
        self._show_progress()
        self.view.show()
        if created:
            fit_to_screen(self.view, self.window)
        self.view.raise_()
        return self.view

    def refresh(self) -> None:
        self.tasks.run("models", list_models, self.db, on_done=self._on_models)

    def add(self, values: dict) -> None:
        """Register the model of ``values`` (the form's fields); hash local weights in a job."""
        values = dict(values)
        name, backend = values.pop("name"), values.pop("backend")
        self._show_status(f"Checking the files of {name}...")
        self.tasks.run("add model", add_model, self.db, name, backend, compute_hash=False, **values,
                       on_done=self._on_added)

    def _on_added(self, record) -> None:  # noqa: ANN001 - a ModelRecord
        self.refresh()
        if record.backend == "openai":
            self._show_status(f"Registered {record.name}; set its API key if the server needs one.")
            return
        self._show_status(f"Registered {record.name} ({record.family or 'unknown family'}, "
                          f"{record.quantization or 'unknown precision'}); hashing its weights.")
        self.hash(record.name)

    def hash(self, name: str) -> int:
        """Queue the ``models.hash`` job of model ``name``; return the job id."""
        self.job_model = name
        self.job_id = self.window.jobs.submit(HASH_JOB, {"name": name})
        self._show_progress()
        return self.job_id

    def remove(self, name: str, confirmed: bool = False) -> None:
        """Unregister model ``name`` (its files stay on disk), after a confirmation."""
        if not confirmed:
            box = QMessageBox(QMessageBox.Icon.Question, "Remove model",
                              f"Remove model '{name}' and its adapters from the registry? Its files "
                              "stay on disk, and runs keep their stored configuration.",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
            box.accepted.connect(lambda: self.remove(name, confirmed=True))
            box.finished.connect(box.deleteLater)
            self.window.keep_dialog(box)
            box.open()
            return
        self.tasks.run("remove model", remove_model, self.db, name,
                       on_done=lambda _none: (self._show_status(f"Removed {name}."), self.refresh()))

    def set_api_key(self, name: str, key: str | None = None) -> None:
        """Store the API key of HTTP model ``name`` in the OS keyring (asked for when None)."""
        if key is None:
            dialog = QInputDialog(self.window)
            dialog.setWindowTitle("API key")
            dialog.setLabelText(f"API key of model '{name}' (kept in the OS keyring):")
            dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
            dialog.textValueSelected.connect(lambda text: self.set_api_key(name, text))
            dialog.finished.connect(dialog.deleteLater)
            self.window.keep_dialog(dialog)
            dialog.open()
            return
        self.tasks.run("store API key", store_api_key, name, key,
                       on_done=lambda _none: self._show_status(f"Stored the API key of {name} in the OS keyring."))

    # ------------------------------------------------------------ internals

    def _on_models(self, records: list) -> None:
        if self.view is not None:
            self.view.set_models(records)

    def _show_status(self, text: str) -> None:
        self.window.show_message(text)
        if self.view is not None:
            self.view.show_status(text)

    def _show_progress(self) -> None:
        if self.view is not None and self.job_id is not None:
            self.view.progress.set_status(self.window.jobs.status(self.job_id),
                                          f"Hashing {self.job_model}")

    def _on_window_job_finished(self, job_id: int, kind: str, state: str) -> None:
        if kind != HASH_JOB:
            return
        if job_id == self.job_id and state != "succeeded":
            status = self.window.jobs.status(job_id)
            self._show_status(f"Hashing {self.job_model} {state}: {status.message if status else ''}")
        self.refresh()

    def _on_view_destroyed(self, *_args) -> None:
        self.view = None

    def shutdown(self) -> None:
        self.tasks.shutdown()
