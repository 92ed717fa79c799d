"""A confusion matrix: gold labels as rows, predicted labels as columns, counts in the cells.

It takes an ``engine.bench.run_questions.ConfusionMatrix`` (or anything with
``gold_labels``, ``predicted_labels`` and ``count(gold, predicted)``). Cells are shaded by
their share of the row; diagonal cells (gold equals prediction) are green, the others
red. Clicking a cell emits ``cellChosen(gold, predicted)``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

RIGHT_RGB = (44, 160, 44)
WRONG_RGB = (214, 39, 40)


def _shade(rgb: tuple[int, int, int], share: float) -> QColor:
    colour = QColor(*rgb)
    colour.setAlphaF(0.08 + 0.6 * share)
    return colour


class ConfusionView(QWidget):
    """Shows one confusion matrix with a caption."""

    cellChosen = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(self, objectName="confusion_caption", wordWrap=True)
        self.table = QTableWidget(0, 0, self, objectName="confusion_table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellClicked.connect(self._on_table_cell_clicked)
        self._gold: list[str] = []
        self._predicted: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        self.set_matrix(None)

    def set_matrix(self, matrix, caption: str = "") -> None:  # noqa: ANN001 - a ConfusionMatrix
        """Show ``matrix`` (None clears the table)."""
        self._gold = list(matrix.gold_labels) if matrix is not None else []
        self._predicted = list(matrix.predicted_labels) if matrix is not None else []
        self.caption.setText(caption or ("Choose a run to see its diagnosis confusion matrix."
                                         if matrix is None else ""))
        self.table.clear()
        self.table.setRowCount(len(self._gold))
        self.table.setColumnCount(len(self._predicted))
        self.table.setVerticalHeaderLabels([f"gold: {label}" for label in self._gold])
        self.table.setHorizontalHeaderLabels(self._predicted)
        for row, gold in enumerate(self._gold):
            total = sum(matrix.count(gold, predicted) for predicted in self._predicted) or 1
            for column, predicted in enumerate(self._predicted):
                count = matrix.count(gold, predicted)
                item = QTableWidgetItem(str(count) if count else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if count:
                    rgb = RIGHT_RGB if gold == predicted else WRONG_RGB
                    item.setBackground(_shade(rgb, count / total))
                self.table.setItem(row, column, item)

    @property
    def labels(self) -> tuple[list[str], list[str]]:
        """(gold labels, predicted labels) in the order shown."""
        return list(self._gold), list(self._predicted)

    def count_text(self, gold: str, predicted: str) -> str:
        item = self.table.item(self._gold.index(gold), self._predicted.index(predicted))
        return item.text() if item is not None else ""

    def choose(self, gold: str, predicted: str) -> None:
        """Select a cell as a click would."""
        row, column = self._gold.index(gold), self._predicted.index(predicted)
        self.table.setCurrentCell(row, column)
        self._on_table_cell_clicked(row, column)

    def _on_table_cell_clicked(self, row: int, column: int) -> None:
        if 0 <= row < len(self._gold) and 0 <= column < len(self._predicted):
            self.cellChosen.emit(self._gold[row], self._predicted[column])
