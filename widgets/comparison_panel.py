"""The comparison window's view: runs to compare, runs x metrics, charts, the diagnosis
confusion matrix and the questions behind a chosen number.

It takes plain data (run overviews, comparison rows, a confusion matrix, question
outcomes) and emits what the user asks for; the application queries and exports.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from widgets.bar_chart import GroupedBarChart
from widgets.comparison_table import QUESTION_TYPES, ComparisonTable
from widgets.confusion_view import ConfusionView
from widgets.question_list import QuestionList

EXPORT_KINDS = (("comparison-csv", "Comparison CSV..."), ("comparison-json", "Comparison JSON..."),
                ("report", "Run report (HTML, CSV or JSON)..."))
TRAP_CATEGORIES = {"trap": "trap", "non-trap": "non_trap"}
RUN_NAME_ROLE = Qt.ItemDataRole.UserRole


class ComparisonPanel(QWidget):
    """Runs x metrics with charts, confusion matrix and click-through to the questions."""

    checkedRunsChanged = Signal(list)
    cellChosen = Signal(str, str)
    confusionCellChosen = Signal(str, str)
    itemRequested = Signal(int)
    refreshRequested = Signal()
    importRequested = Signal()
    exportRequested = Signal(str)
    resumeRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs = QListWidget(self, objectName="compared_runs")
        self.runs.itemChanged.connect(self._on_runs_item_changed)
        self.table = ComparisonTable(self)
        self.table.cellChosen.connect(self.cellChosen)
        self.type_chart = GroupedBarChart("Accuracy by question type", self)
        self.type_chart.barClicked.connect(self._on_type_chart_bar_clicked)
        self.trap_chart = GroupedBarChart("Trap vs non-trap accuracy", self)
        self.trap_chart.barClicked.connect(self._on_trap_chart_bar_clicked)
        self.confusion = ConfusionView(self)
        self.confusion.cellChosen.connect(self.confusionCellChosen)
        self.questions = QuestionList(self)
        self.questions.itemRequested.connect(self.itemRequested)
        self.status = QLabel(self, objectName="comparison_status", wordWrap=True)

        charts = QWidget(self)
        chart_row = QHBoxLayout(charts)
        chart_row.setContentsMargins(0, 0, 0, 0)
        chart_row.addWidget(self.type_chart, 3)
        chart_row.addWidget(self.trap_chart, 2)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(charts, "Charts")
        self.tabs.addTab(self.confusion, "Diagnosis confusion")
        self.tabs.addTab(self.questions, "Questions")

        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.table)
        right.addWidget(self.tabs)
        right.setSizes([220, 420])
        left = QWidget(self)
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(QLabel("Runs to compare (tick them):", left))
        left_column.addWidget(self.runs, 1)
        resume = QPushButton("Resume selected run", left, objectName="resume_selected")
        resume.clicked.connect(self._on_resume_clicked)
        left_column.addWidget(resume)
        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.addWidget(left)
        body.addWidget(right)
        body.setSizes([260, 900])

        toolbar = QHBoxLayout()
        for text, signal in (("Refresh", self.refreshRequested),
                             ("Import predictions...", self.importRequested)):
            button = QPushButton(text, self)
            button.clicked.connect(signal)
            toolbar.addWidget(button)
        toolbar.addStretch(1)
        self.export_buttons: dict[str, QPushButton] = {}
        for kind, text in EXPORT_KINDS:
            button = QPushButton(f"Export {text}", self, objectName=f"export_{kind}")
            button.clicked.connect(lambda _checked=False, kind=kind: self.exportRequested.emit(kind))
            toolbar.addWidget(button)
            self.export_buttons[kind] = button
        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(body, 1)
        layout.addWidget(self.status)

    # ------------------------------------------------------------ runs

    def set_runs(self, overviews: Sequence[Any]) -> None:
        """List runs (``RunOverview`` rows); ticked runs stay ticked."""
        checked = set(self.checked_runs())
        self.runs.blockSignals(True)
        self.runs.clear()
        for overview in overviews:
            item = QListWidgetItem(f"{overview.name}  [{overview.status}]")
            item.setData(RUN_NAME_ROLE, overview.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if overview.name in checked
                               else Qt.CheckState.Unchecked)
            self.runs.addItem(item)
        self.runs.blockSignals(False)

    def run_names(self) -> list[str]:
        return [self.runs.item(row).data(RUN_NAME_ROLE) for row in range(self.runs.count())]

    def checked_runs(self) -> list[str]:
        return [self.runs.item(row).data(RUN_NAME_ROLE) for row in range(self.runs.count())
                if self.runs.item(row).checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: Sequence[str]) -> None:
        """Tick exactly ``names`` and announce the change once."""
        wanted = set(names)
        self.runs.blockSignals(True)
        for row in range(self.runs.count()):
            item = self.runs.item(row)
            item.setCheckState(Qt.CheckState.Checked if item.data(RUN_NAME_ROLE) in wanted
                               else Qt.CheckState.Unchecked)
        self.runs.blockSignals(False)
        self.checkedRunsChanged.emit(self.checked_runs())

    def selected_run(self) -> str | None:
        """Return the run of the table's selected cell, else the run selected in the list."""
        return self.table.current_run() or self.listed_run()

    def listed_run(self) -> str | None:
        """Return the run selected in the list, or None."""
        items = self.runs.selectedItems()
        return items[0].data(RUN_NAME_ROLE) if items else None

    # ------------------------------------------------------------ results

    def set_comparison(self, rows: Sequence[dict[str, Any]]) -> None:
        """Show comparison rows in the table and both charts."""
        self.table.set_rows(rows)
        self.type_chart.set_data(QUESTION_TYPES, [
            (row["run"], [row.get(f"accuracy_{name}") for name in QUESTION_TYPES]) for row in rows])
        self.trap_chart.set_data(list(TRAP_CATEGORIES), [
            (row["run"], [row.get("trap_accuracy"), row.get("non_trap_accuracy")]) for row in rows])
        self.export_buttons["comparison-csv"].setEnabled(bool(rows))
        self.export_buttons["comparison-json"].setEnabled(bool(rows))

    def set_confusion(self, matrix, run: str) -> None:  # noqa: ANN001 - a ConfusionMatrix
        caption = (f"Diagnosis questions of {run}: gold option (rows) against the predicted "
                   f"option (columns), {matrix.total} questions. Click a cell to list them.")
        if matrix.total == 0:
            caption = f"Run {run} has no diagnosis questions."
        self.confusion.set_matrix(matrix, caption)

    def show_questions(self, rows: Sequence[Any], caption: str) -> None:
        self.questions.set_rows(rows, caption)
        self.tabs.setCurrentWidget(self.questions)

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------ slots

    def _on_runs_item_changed(self, _item: QListWidgetItem) -> None:
        self.checkedRunsChanged.emit(self.checked_runs())

    def _on_type_chart_bar_clicked(self, run: str, question_type: str) -> None:
        self.cellChosen.emit(run, f"type:{question_type}")

    def _on_trap_chart_bar_clicked(self, run: str, category: str) -> None:
        self.cellChosen.emit(run, TRAP_CATEGORIES[category])

    def _on_resume_clicked(self) -> None:
        run = self.listed_run()
        if run is not None:
            self.resumeRequested.emit(run)
