"""The runs table: each run's accuracy beside the reviewers' agreement with its answers.

It takes run overview rows (``engine.viewer.run_overview.RunOverview`` or anything with
the same attributes). Blind mode hides the accuracy column.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

COLUMNS = ("Run", "Benchmark", "Model", "Status", "Answers", "Accuracy", "Agreement", "Reviewed")
ACCURACY = COLUMNS.index("Accuracy")


def percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


class RunsTable(QWidget):
    """One row per run: name, benchmark, model, status, answers, accuracy, agreement."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_runs(self, runs) -> None:
        runs = list(runs)
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            values = (run.name, run.benchmark, run.model, run.status, str(run.answers), percent(run.accuracy),
                      percent(run.agreement), str(run.reviewed))
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))

    def set_blind(self, blind: bool) -> None:
        self.table.setColumnHidden(ACCURACY, bool(blind))

    def row_values(self, row: int) -> dict[str, str]:
        return {name: self.table.item(row, column).text() for column, name in enumerate(COLUMNS)}
