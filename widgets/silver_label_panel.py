"""The silver-label panel: every stage's fields of the slice on screen, with accept or correct
per field of the stage under review.

It takes ``engine.pipeline.slice_labels.SliceLabel`` rows and the allowed values per field,
and never touches the database. ``verdictRequested(label_id, field, verdict, corrected)``
requests a save of "agree" (the stored value is right) or "disagree" with the reviewer's
value (empty when the field should be empty). ``undoRequested()`` requests an undo of the
last save.
Keys (``widgets.research_shortcuts``): Y accept, U choose a correction, Enter save it,
J / K next / previous field, Ctrl+Z undo.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from widgets.research_shortcuts import research_shortcut

FIELDS = ("lesion_found", "modality", "location", "shape", "margins", "texture", "enhancement",
          "oedema", "signal_intensity")
STAGES = ("run_a", "run_b", "fused", "audited")
EMPTY = "(empty)"
REVIEWED_STAGE_COLOUR = QColor(31, 119, 180, 40)


def value_text(value: Any) -> str:
    return "" if value is None else str(value)


def verdict_text(verdict) -> str:  # noqa: ANN001 - a FieldVerdict or None
    if verdict is None:
        return ""
    if verdict.verdict == "agree":
        return "accepted"
    if verdict.verdict == "disagree":
        return f"corrected to {verdict.corrected_label}" if verdict.corrected_label else "should be empty"
    return verdict.verdict


class SilverLabelPanel(QWidget):
    """Fields (rows) by stage (columns) of one pipeline run's labels of one slice."""

    verdictRequested = Signal(int, str, str, object)
    undoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: list = []
        self._choices: dict[str, Sequence[str]] = {}
        self.title = QLabel("No slice on screen.", self, objectName="silver_title", wordWrap=True)
        self.run = QComboBox(self, objectName="silver_run")
        self.run.currentTextChanged.connect(self._on_run_changed)
        self.stage = QComboBox(self, objectName="silver_stage")
        self.stage.currentTextChanged.connect(lambda _text: self._fill())
        self.table = QTableWidget(len(FIELDS), len(STAGES) + 1, self, objectName="silver_fields")
        self.table.setHorizontalHeaderLabels([*STAGES, "Your verdict"])
        self.table.setVerticalHeaderLabels(list(FIELDS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.currentCellChanged.connect(lambda *_args: self._on_field_changed())
        self.correction = QComboBox(self, objectName="silver_correction")
        self.accept_button = QPushButton(f"Accept ({self._hint('silver.accept')})", self)
        self.accept_button.clicked.connect(self.accept_field)
        self.save_button = QPushButton(f"Save correction ({self._hint('silver.save')})", self)
        self.save_button.clicked.connect(self.save_correction)
        self.undo_button = QPushButton(f"Undo ({self._hint('silver.undo')})", self)
        self.undo_button.clicked.connect(self.undoRequested)
        self.status = QLabel(self, objectName="silver_status", wordWrap=True)

        choose = QHBoxLayout()
        choose.addWidget(QLabel("Pipeline run", self))
        choose.addWidget(self.run, 1)
        choose.addWidget(QLabel("Stage under review", self))
        choose.addWidget(self.stage)
        actions = QHBoxLayout()
        actions.addWidget(self.accept_button)
        actions.addWidget(QLabel(f"Correct ({self._hint('silver.correct')}):", self))
        actions.addWidget(self.correction, 1)
        actions.addWidget(self.save_button)
        actions.addWidget(self.undo_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addLayout(choose)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        self._add_key_actions()
        self.set_labels(None, [], {})

    @staticmethod
    def _hint(action: str) -> str:
        return " / ".join(research_shortcut(action).keys)

    def _add_key_actions(self) -> None:
        # Actions in this panel's scope only, so the keys never act in the viewer or the
        # review panel, and item views here do not swallow them as keyboard search.
        bindings = {"silver.accept": self.accept_field, "silver.correct": self.focus_correction,
                    "silver.save": self.save_correction, "silver.next": lambda: self.step(1),
                    "silver.previous": lambda: self.step(-1), "silver.undo": self.undoRequested.emit}
        self.key_actions: dict[str, QAction] = {}
        for name, callback in bindings.items():
            action = QAction(research_shortcut(name).description, self)
            action.setShortcuts([QKeySequence(key) for key in research_shortcut(name).keys])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _checked=False, callback=callback: callback())
            self.addAction(action)
            self.key_actions[name] = action

    # ------------------------------------------------------------ data from the app

    def set_labels(self, title: str | None, labels: Sequence[Any],
                   choices: dict[str, Sequence[str]]) -> None:
        """Show ``labels`` (SliceLabel rows of one slice) under ``title``; keeps the run,
        stage and field chosen when they still exist."""
        run, stage, row = self.run.currentText(), self.stage.currentText(), self.table.currentRow()
        self._labels = list(labels)
        self._choices = dict(choices)
        runs = sorted({label.pipeline_run for label in self._labels})
        self.title.setText(title or "No slice on screen.")
        if not self._labels and title:
            self.title.setText(f"{title}: no silver labels; run the pipeline's extract, fuse "
                               "and audit stages on its dataset.")
        self.run.blockSignals(True)
        self.run.clear()
        self.run.addItems(runs)
        if run in runs:
            self.run.setCurrentText(run)
        self.run.blockSignals(False)
        self._fill_stages(stage)
        self.table.setCurrentCell(max(row, 0), 0)
        self._on_field_changed()

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------ reading

    def current_label(self):  # noqa: ANN201 - a SliceLabel or None
        stage = self.stage.currentText()
        return next((label for label in self._run_labels() if label.stage == stage), None)

    def current_field(self) -> str:
        return FIELDS[max(self.table.currentRow(), 0)]

    def select_field(self, field: str) -> None:
        self.table.setCurrentCell(FIELDS.index(field), 0)

    def cell_text(self, field: str, column: str) -> str:
        """Return the text in row ``field`` and column ``column`` (a stage or "verdict")."""
        index = len(STAGES) if column == "verdict" else STAGES.index(column)
        item = self.table.item(FIELDS.index(field), index)
        return item.text() if item is not None else ""

    # ------------------------------------------------------------ actions

    def accept_field(self) -> None:
        """Accept the stored value of the selected field and move to the next field."""
        label = self.current_label()
        if label is None:
            self.show_status("No silver label of this stage to review.")
            return
        self.verdictRequested.emit(label.label_id, self.current_field(), "agree", None)
        self.step(1)

    def focus_correction(self) -> None:
        self.correction.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def save_correction(self) -> None:
        """Save the chosen value as the selected field's correction and move on."""
        label = self.current_label()
        if label is None:
            self.show_status("No silver label of this stage to review.")
            return
        chosen = self.correction.currentText()
        value = None if chosen == EMPTY else chosen
        if (value or "") == value_text(label.fields.get(self.current_field())):
            self.show_status("The correction is the stored value; press Y to accept it, or "
                             "choose another value.")
            return
        self.verdictRequested.emit(label.label_id, self.current_field(), "disagree", value)
        self.step(1)

    def step(self, delta: int) -> None:
        row = (max(self.table.currentRow(), 0) + delta) % len(FIELDS)
        self.table.setCurrentCell(row, 0)

    # ------------------------------------------------------------ internals

    def _run_labels(self) -> list:
        run = self.run.currentText()
        return [label for label in self._labels if label.pipeline_run == run]

    def _fill_stages(self, wanted: str) -> None:
        present = [label.stage for label in self._run_labels()]
        self.stage.blockSignals(True)
        self.stage.clear()
        self.stage.addItems(present)
        # Review the last stage by default: the label the instructions are generated from.
        if wanted not in present:
            wanted = present[-1] if present else ""
        self.stage.setCurrentText(wanted)
        self.stage.blockSignals(False)
        self._fill()

    def _fill(self) -> None:
        by_stage = {label.stage: label for label in self._run_labels()}
        reviewed = self.current_label()
        for row, field in enumerate(FIELDS):
            for column, stage in enumerate(STAGES):
                label = by_stage.get(stage)
                item = QTableWidgetItem(value_text(label.fields.get(field)) if label else "")
                if label is not None and label is reviewed:
                    item.setBackground(REVIEWED_STAGE_COLOUR)
                self.table.setItem(row, column, item)
            verdict = reviewed.verdicts.get(field) if reviewed is not None else None
            self.table.setItem(row, len(STAGES), QTableWidgetItem(verdict_text(verdict)))
        enabled = reviewed is not None
        for widget in (self.accept_button, self.save_button, self.correction):
            widget.setEnabled(enabled)

    def _on_run_changed(self, _run: str) -> None:
        self._fill_stages(self.stage.currentText())

    def _on_field_changed(self) -> None:
        field = self.current_field()
        self.correction.clear()
        self.correction.addItems([EMPTY, *self._choices.get(field, ())])
        label = self.current_label()
        value = value_text(label.fields.get(field)) if label is not None else ""
        if value:
            self.correction.setCurrentText(value)
