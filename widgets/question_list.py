"""A list of a run's closed questions with their outcome; a row opens its item in the viewer.

It takes ``engine.bench.run_questions.QuestionOutcome`` rows (or anything with the same
attributes). Double-clicking a row, or Enter on it, emits ``itemRequested(item_pk)``.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

COLUMNS = ("Item", "Question", "Type", "Trap", "Gold", "Predicted", "Outcome", "Stem")
RIGHT = QColor(44, 160, 44, 60)
WRONG = QColor(214, 39, 40, 60)


def _option(letter: str | None, text: str | None) -> str:
    if letter is None:
        return ""
    return f"{letter}. {text}" if text else letter


class QuestionList(QWidget):
    """Questions behind a chosen number, with a caption saying which."""

    itemRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Click a cell of the table or the matrix to list its questions.",
                              self, objectName="questions_caption", wordWrap=True)
        self.table = QTableWidget(0, len(COLUMNS), self, objectName="question_list")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # Activation is a double click (a single click on platforms set up so) or Enter.
        self.table.activated.connect(lambda index: self.open_row(index.row()))
        self._rows: list = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)

    @property
    def rows(self) -> list:
        return list(self._rows)

    def set_rows(self, rows: Sequence, caption: str) -> None:
        self._rows = list(rows)
        self.caption.setText(f"{caption}: {len(self._rows)} questions. Double-click one (or press "
                             "Enter) to open it in the viewer.")
        self.table.setRowCount(len(self._rows))
        for index, row in enumerate(self._rows):
            values = (str(row.item_id), str(row.q_index), row.question_type,
                      "trap" if row.is_trap else "", _option(row.gold, row.gold_text),
                      _option(row.predicted, row.predicted_text), row.outcome, row.stem)
            colour = RIGHT if row.correct else WRONG
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == COLUMNS.index("Outcome"):
                    item.setBackground(colour)
                self.table.setItem(index, column, item)

    def open_row(self, index: int) -> None:
        """Open row ``index`` in the viewer, as activating it does."""
        if 0 <= index < len(self._rows):
            self.itemRequested.emit(self._rows[index].item_pk)
