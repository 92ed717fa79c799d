"""The comparison table: one row per run, one column per metric.

It takes comparison rows (``engine.bench.compare.comparison_row`` dicts) and emits
``cellChosen(run, metric)`` when a cell is clicked, where ``metric`` is the column's key
(``accuracy``, ``type:diagnosis``, ``trap``, ...), so the application can list the
questions behind the number.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

QUESTION_TYPES = ("diagnosis", "modality", "size", "shape", "spread", "location")
# (key, heading, key of the comparison row)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run", "Run", "run"),
    ("model", "Model", "model"),
    ("setting", "Setting", "setting"),
    ("accuracy", "Accuracy [95% CI]", "accuracy"),
    *((f"type:{name}", name.capitalize(), f"accuracy_{name}") for name in QUESTION_TYPES),
    ("trap", "Trap", "trap_accuracy"),
    ("non_trap", "Non-trap", "non_trap_accuracy"),
    ("false_rejection", "False rejection", "false_rejection_rate"),
    ("unparsed", "Unparsed", "unparsed_rate"),
    ("agreement", "Review agreement", "review_agreement"),
)
KEYS = tuple(key for key, _heading, _field in COLUMNS)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def cell_text(key: str, row: dict[str, Any]) -> str:
    """Return the text of column ``key`` for comparison row ``row``."""
    field = dict((column_key, name) for column_key, _heading, name in COLUMNS)[key]
    value = row.get(field)
    if key in ("run", "setting"):
        return str(value or "")
    if key == "model":
        return f"{value} + {row['adapter']}" if row.get("adapter") else str(value or "")
    if key == "accuracy" and value is not None and row.get("accuracy_ci_low") is not None:
        return (f"{percent(value)} [{100 * row['accuracy_ci_low']:.1f}, "
                f"{100 * row['accuracy_ci_high']:.1f}]")
    if key == "agreement" and not row.get("reviewed"):
        return "-"
    return percent(value)


class ComparisonTable(QWidget):
    """Runs x metrics; the run column stays first."""

    cellChosen = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self, objectName="comparison_table")
        self.table.setHorizontalHeaderLabels([heading for _key, heading, _field in COLUMNS])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellClicked.connect(self._on_table_cell_clicked)
        self._rows: list[dict[str, Any]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def set_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self._rows = list(rows)
        self.table.setRowCount(len(self._rows))
        for row_index, row in enumerate(self._rows):
            for column, key in enumerate(KEYS):
                item = QTableWidgetItem(cell_text(key, row))
                if column >= KEYS.index("accuracy"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row_index, column, item)

    def current_run(self) -> str | None:
        """Return the run of the selected cell, or None when no cell is selected."""
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self._rows[row]["run"] if row < len(self._rows) else None

    def text(self, run: str, key: str) -> str:
        """Return the shown text of ``run``'s cell in column ``key``."""
        row = next(index for index, values in enumerate(self._rows) if values["run"] == run)
        return self.table.item(row, KEYS.index(key)).text()

    def choose(self, run: str, key: str) -> None:
        """Select ``run``'s cell in column ``key`` as a click would."""
        row = next(index for index, values in enumerate(self._rows) if values["run"] == run)
        self.table.setCurrentCell(row, KEYS.index(key))
        self._on_table_cell_clicked(row, KEYS.index(key))

    def _on_table_cell_clicked(self, row: int, column: int) -> None:
        if 0 <= row < len(self._rows):
            self.cellChosen.emit(self._rows[row]["run"], KEYS[column])
