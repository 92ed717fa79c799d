"""The model registry window: registered models with their adapters, and a form to add one.

It takes ``engine.inference.registry.ModelRecord`` rows and never touches the database.
Signals: ``addRequested(dict)`` with ``name``, ``backend``, ``path``, ``mmproj_path``,
``base_url``, ``server_model`` and ``api_key_env``; ``removeRequested(name)``,
``hashRequested(name)`` and ``apiKeyRequested(name)`` for the selected model. API keys are
never shown or kept here: the application stores them in the OS keyring.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from widgets.job_progress import JobProgressView

COLUMNS = ("Name", "Backend", "Family", "Precision", "SHA-256", "Location", "API key")
# (backend, label of the "Add" choice)
BACKENDS = (("transformers", "Local folder (transformers)"), ("llama.cpp", "GGUF file (llama.cpp)"),
            ("openai", "HTTP server (OpenAI-compatible)"))
NAME_ROLE = Qt.ItemDataRole.UserRole


def _location(record) -> str:  # noqa: ANN001 - a ModelRecord
    if record.backend == "openai":
        return f"{record.base_url} ({record.server_model})"
    return record.path + (f" + {record.mmproj_path}" if record.mmproj_path else "")


def _api_key(record) -> str:  # noqa: ANN001 - a ModelRecord
    if record.backend != "openai":
        return ""
    return f"environment variable {record.api_key_env}" if record.api_key_env else "OS keyring"


class ModelRegistryWindow(QDialog):
    """Lists models and adapters; adds, removes, re-hashes and sets API keys through signals."""

    addRequested = Signal(dict)
    removeRequested = Signal(str)
    hashRequested = Signal(str)
    apiKeyRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model registry")
        self.tree = QTreeWidget(self, objectName="models")
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(lambda *_args: self._update_buttons())

        self.remove_button = QPushButton("Remove", self, objectName="remove")
        self.remove_button.clicked.connect(lambda: self._emit_selected(self.removeRequested))
        self.hash_button = QPushButton("Hash weights again", self, objectName="hash")
        self.hash_button.clicked.connect(lambda: self._emit_selected(self.hashRequested))
        self.key_button = QPushButton("Set API key...", self, objectName="api_key")
        self.key_button.clicked.connect(lambda: self._emit_selected(self.apiKeyRequested))
        row = QHBoxLayout()
        row.addStretch(1)
        for button in (self.hash_button, self.key_button, self.remove_button):
            row.addWidget(button)

        self.backend = QComboBox(self, objectName="backend")
        for backend, label in BACKENDS:
            self.backend.addItem(label, backend)
        self.backend.currentIndexChanged.connect(lambda _index: self._update_form())
        self.name = QLineEdit(self, objectName="name")
        self.path = QLineEdit(self, objectName="path")
        self.path_browse = QPushButton("Browse...", self)
        self.path_browse.clicked.connect(self._on_path_browse_clicked)
        self.mmproj = QLineEdit(self, objectName="mmproj")
        self.mmproj.setPlaceholderText("optional: the vision projector GGUF file")
        self.mmproj_browse = QPushButton("Browse...", self)
        self.mmproj_browse.clicked.connect(lambda: self._choose_file(self.mmproj, "Vision projector (mmproj) GGUF"))
        self.base_url = QLineEdit(self, objectName="base_url")
        self.base_url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.server_model = QLineEdit(self, objectName="server_model")
        self.api_key_env = QLineEdit(self, objectName="api_key_env")
        self.api_key_env.setPlaceholderText("optional: variable that holds the key (else the OS keyring)")
        self.add_button = QPushButton("Add model", self, objectName="add")
        self.add_button.clicked.connect(self._on_add_clicked)
        form = QFormLayout()
        form.addRow("Kind", self.backend)
        form.addRow("Name", self.name)
        form.addRow("Path", self._pair(self.path, self.path_browse))
        form.addRow("Vision projector", self._pair(self.mmproj, self.mmproj_browse))
        form.addRow("Base URL", self.base_url)
        form.addRow("Server model", self.server_model)
        form.addRow("API key variable", self.api_key_env)
        self._form = form
        add_box = QGroupBox("Add a model", self)
        add_column = QVBoxLayout(add_box)
        add_column.addLayout(form)
        add_row = QHBoxLayout()
        add_row.addStretch(1)
        add_row.addWidget(self.add_button)
        add_column.addLayout(add_row)

        self.status = QLabel(self, objectName="status", wordWrap=True)
        self.progress = JobProgressView(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        layout.addWidget(add_box)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.resize(980, 640)
        self._update_form()
        self._update_buttons()

    @staticmethod
    def _pair(editor: QWidget, button: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(editor, 1)
        layout.addWidget(button)
        return row

    # ------------------------------------------------------------ data from the app

    def set_models(self, records: Sequence[Any]) -> None:
        """List ``records`` (ModelRecord rows) with their adapters as children."""
        selected = self.selected_model()
        self.tree.clear()
        for record in records:
            item = QTreeWidgetItem([record.name, record.backend, record.family or "",
                                    record.quantization or "", (record.sha256 or "not computed")[:16],
                                    _location(record), _api_key(record)])
            item.setData(0, NAME_ROLE, record.name)
            for adapter in record.adapters:
                child = QTreeWidgetItem([adapter.name, "adapter", "", "",
                                         (adapter.sha256 or "not computed")[:16], adapter.path, ""])
                child.setData(0, NAME_ROLE, None)
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
            if record.name == selected:
                self.tree.setCurrentItem(item)
        self._update_buttons()

    def model_names(self) -> list[str]:
        return [self.tree.topLevelItem(index).text(0) for index in range(self.tree.topLevelItemCount())]

    def row_text(self, name: str, column: str) -> str:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.text(0) == name:
                return item.text(COLUMNS.index(column))
        raise KeyError(name)

    def select_model(self, name: str) -> None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.text(0) == name:
                self.tree.setCurrentItem(item)

    def selected_model(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, NAME_ROLE) if item is not None else None

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------ form

    def form_values(self) -> dict[str, Any]:
        backend = self.backend.currentData()
        local = backend != "openai"

        def text(editor: QLineEdit) -> str | None:
            return editor.text().strip() or None

        return {"name": self.name.text().strip(), "backend": backend,
                "path": text(self.path) if local else None,
                "mmproj_path": text(self.mmproj) if backend == "llama.cpp" else None,
                "base_url": None if local else text(self.base_url),
                "server_model": None if local else text(self.server_model),
                "api_key_env": None if local else text(self.api_key_env)}

    def set_form(self, backend: str, **values: str) -> None:
        """Fill the add form (the values' keys are the line edits' names)."""
        self.backend.setCurrentIndex(self.backend.findData(backend))
        for key, value in values.items():
            getattr(self, key).setText(value)

    def _update_form(self) -> None:
        backend = self.backend.currentData()
        visible = {1: True, 2: backend != "openai", 3: backend == "llama.cpp",
                   4: backend == "openai", 5: backend == "openai", 6: backend == "openai"}
        for row, shown in visible.items():
            self._form.setRowVisible(row, shown)
        self.path.setPlaceholderText("model folder with config.json" if backend == "transformers"
                                     else "text-model GGUF file")

    def _update_buttons(self) -> None:
        name = self.selected_model()
        item = self.tree.currentItem()
        backend = item.text(1) if item is not None else ""
        self.remove_button.setEnabled(name is not None)
        self.hash_button.setEnabled(name is not None and backend in ("transformers", "llama.cpp"))
        self.key_button.setEnabled(name is not None and backend == "openai")

    def _emit_selected(self, signal) -> None:  # noqa: ANN001 - a bound signal
        name = self.selected_model()
        if name is not None:
            signal.emit(name)

    def _on_add_clicked(self) -> None:
        values = self.form_values()
        if not values["name"]:
            self.show_status("Give the model a name.")
            return
        self.addRequested.emit(values)

    def _on_path_browse_clicked(self) -> None:
        if self.backend.currentData() == "transformers":
            dialog = QFileDialog(self, "Model folder (with config.json)")
            dialog.setFileMode(QFileDialog.FileMode.Directory)
            dialog.fileSelected.connect(self.path.setText)
            dialog.finished.connect(dialog.deleteLater)
            dialog.open()
        else:
            self._choose_file(self.path, "Text-model GGUF file")

    def _choose_file(self, editor: QLineEdit, title: str) -> None:
        dialog = QFileDialog(self, title, "", "GGUF (*.gguf);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(editor.setText)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
