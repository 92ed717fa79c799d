"""The reviews window: every review, filtered by verdict, reviewer and target, and exported."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)
from sqlalchemy import select

from db.models import Review
from db.session import Database
from engine.errors import WorkbenchError
from engine.review import export_reviews, list_reviews

SHOWN_COLUMNS = ("review_id", "version", "created_at", "reviewer", "target", "verdict", "comment",
                 "corrected_answer", "corrected_label", "run", "question_type", "parsed_letter", "dataset",
                 "case", "slice_index", "image_path")
VERDICT_CHOICES = (("any verdict", None), ("agree", "agree"), ("disagree", "disagree"), ("flag", "flag"))
TARGET_CHOICES = (("answers and slices", None), ("answers", "answer"), ("slices", "slice"),
                  ("silver labels", "silver_label"))


class ReviewsDialog(QDialog):
    """Lists reviews (each reviewer's current versions, or every version) and exports them."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.setWindowTitle("Reviews")
        self.rows: list[dict] = []
        self.verdict = self._combo(VERDICT_CHOICES)
        self.reviewer = QComboBox(self)
        self.reviewer.currentIndexChanged.connect(self.refresh)
        self.target = self._combo(TARGET_CHOICES)
        self.all_versions = QCheckBox("All versions", self)
        self.all_versions.setToolTip("Show every version, including withdrawn ones, instead of the current ones")
        self.all_versions.toggled.connect(self.refresh)
        self.count = QLabel(self)
        export = QPushButton("Export...", self)
        export.setToolTip("Write the rows shown to a .csv or .json file")
        export.clicked.connect(self._on_export_clicked)
        self.table = QTableWidget(0, len(SHOWN_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(SHOWN_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        filters = QHBoxLayout()
        for widget in (self.verdict, self.reviewer, self.target, self.all_versions):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count)
        filters.addWidget(export)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        self.resize(1100, 560)
        self.refresh_reviewers()
        self.refresh()

    def _combo(self, choices) -> QComboBox:
        box = QComboBox(self)
        for text, value in choices:
            box.addItem(text, value)
        box.currentIndexChanged.connect(self.refresh)
        return box

    def refresh_reviewers(self) -> None:
        with self.db.session() as session:
            names = list(session.scalars(select(Review.reviewer).distinct().order_by(Review.reviewer)))
        current = self.reviewer.currentData()
        self.reviewer.blockSignals(True)
        self.reviewer.clear()
        self.reviewer.addItem("any reviewer", None)
        for name in names:
            self.reviewer.addItem(name, name)
        self.reviewer.setCurrentIndex(max(self.reviewer.findData(current), 0))
        self.reviewer.blockSignals(False)

    def refresh(self) -> None:
        """Query the reviews for the chosen filters and show them."""
        with self.db.session() as session:
            self.rows = list_reviews(session, verdict=self.verdict.currentData(),
                                     reviewer=self.reviewer.currentData(), target=self.target.currentData(),
                                     all_versions=self.all_versions.isChecked())
        self.table.setRowCount(len(self.rows))
        for row, values in enumerate(self.rows):
            for column, key in enumerate(SHOWN_COLUMNS):
                value = values.get(key)
                self.table.setItem(row, column, QTableWidgetItem("" if value is None else str(value)))
        self.count.setText(f"{len(self.rows)} reviews")

    def export_to(self, path: str | Path) -> int:
        """Write the rows shown to ``path`` (.csv or .json); return how many were written."""
        return export_reviews(self.rows, Path(path))

    def _on_export_clicked(self) -> None:
        dialog = QFileDialog(self, "Export reviews", "", "CSV (*.csv);;JSON (*.json)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(self._on_export_file_selected)
        dialog.open()

    def _on_export_file_selected(self, path: str) -> None:
        try:
            count = self.export_to(path)
        except WorkbenchError as error:
            self.count.setText(str(error))
            return
        self.count.setText(f"{count} reviews written to {Path(path).name}")
