"""A pipeline run's results: each stage's stored counts, AIR after each silver-label stage
(with the fill rate of every sign), and the labels' precision and omission against
clinician reviews.

It takes an ``engine.pipeline.overview.PipelineOverview`` (or anything with the same
attributes) and never queries the database.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

SIGNS = ("shape", "margins", "texture", "enhancement", "oedema", "signal_intensity")


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _table(columns: tuple[str, ...], name: str, parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent, objectName=name)
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    table.setRowCount(len(rows))
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))


class PipelineStatsView(QWidget):
    """Stages, AIR and review quality of one pipeline run."""

    STAGE_COLUMNS = ("Stage", "Result", "AIR")
    AIR_COLUMNS = ("Labels", "AIR", "Lesion-positive", *SIGNS)
    QUALITY_COLUMNS = ("Labels", "Field", "Reviewed", "Precision", "Omission rate")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No pipeline run chosen.", self, objectName="pipeline_title",
                            wordWrap=True)
        self.stages = _table(self.STAGE_COLUMNS, "pipeline_stages", self)
        self.air = _table(self.AIR_COLUMNS, "pipeline_air", self)
        self.quality = _table(self.QUALITY_COLUMNS, "pipeline_quality", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.stages, 3)
        layout.addWidget(QLabel("AIR (average information rate) after each label stage, and "
                                "the fill rate of each sign:", self))
        layout.addWidget(self.air, 2)
        layout.addWidget(QLabel("Silver labels against clinician reviews:", self))
        layout.addWidget(self.quality, 2)

    def set_overview(self, overview) -> None:  # noqa: ANN001 - a PipelineOverview or None
        if overview is None:
            self.title.setText("No pipeline run chosen.")
            for table in (self.stages, self.air, self.quality):
                table.setRowCount(0)
            return
        config = overview.config
        models = ", ".join(f"{role} {name}" for role, name in config.get("models", {}).items() if name)
        self.title.setText(
            f"<b>{overview.name}</b> on dataset {overview.dataset}: seed {config.get('seed')}, "
            f"trap share {config.get('trap_share')}, benchmark share "
            f"{config.get('benchmark_share')}, selection {config.get('selection')}"
            + (f"; models: {models}" if models else "; no models set"))
        _fill(self.stages, [(stage.stage, stage.summary, percent(stage.air) if stage.done and stage.air
                             is not None else "") for stage in overview.stages])
        _fill(self.air, [(stage, percent(result["air"]), str(result["positive"]),
                          *(percent(result["fill_rates"].get(sign)) for sign in SIGNS))
                         for stage, result in overview.air.items()])
        rows = []
        for stage, by_field in overview.reviews.items():
            for field, tally in sorted(by_field.items(), key=lambda pair: (pair[0] != "all", pair[0])):
                rows.append((stage, field, str(tally["reviewed"]), percent(tally["precision"]),
                             percent(tally["omission_rate"])))
        _fill(self.quality, rows)

    def stage_text(self, stage: str) -> str:
        """Return the result text shown for ``stage``."""
        for row in range(self.stages.rowCount()):
            if self.stages.item(row, 0).text() == stage:
                return self.stages.item(row, 1).text()
        raise KeyError(stage)
