"""The semantics panel: a slice's four labels, its measurements and its coarse description.

It takes :class:`engine.viewer.semantics_view.SliceSemantics` (plain data) or None.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

LABEL_ROWS = ("Size", "Shape", "Spread", "Location")
MEASURE_ROWS = ("Area (px)", "Area (%)", "Circularity", "Elongation", "Components", "Largest part",
                "Centroid (x, y)")
VOLUME_ROWS = ("Volume (ml)", "Voxels", "Slices with lesion", "Largest slice")
REGION_NAMES = {"whole": "Lesion", "WT": "WT", "TC": "TC", "ET": "ET"}
REGION_TIPS = {"whole": "the whole lesion of a binary mask", "WT": "whole tumour (labels 1, 2 and 4)",
               "TC": "tumour core (labels 1 and 4)", "ET": "enhancing tumour (label 4)"}
NO_VALUE = "-"


def _number(value, digits: int = 2) -> str:
    return NO_VALUE if value is None else f"{value:.{digits}f}"


def _table(parent: QWidget, rows: tuple[str, ...], name: str) -> QTableWidget:
    """Create a read-only table with one row per quantity and one column per mask region."""
    table = QTableWidget(len(rows), 0, parent)
    table.setObjectName(name)
    table.setVerticalHeaderLabels(rows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


def _fill(table: QTableWidget, regions: list[str], columns: list[list[str]]) -> None:
    table.setColumnCount(len(regions))
    for column, region in enumerate(regions):
        header = QTableWidgetItem(REGION_NAMES.get(region, region))
        header.setToolTip(REGION_TIPS.get(region, region))
        table.setHorizontalHeaderItem(column, header)
        for row, value in enumerate(columns[column]):
            table.setItem(row, column, QTableWidgetItem(value))
    height = table.horizontalHeader().height() + sum(table.rowHeight(row) for row in range(table.rowCount()))
    table.setFixedHeight(height + 2 * table.frameWidth())


class SemanticsPanel(QWidget):
    """Labels, measurements, volume summary and description of the slice on screen."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.description = QLabel(self)
        self.description.setObjectName("description")
        self.description.setWordWrap(True)
        self.labels = _table(self, LABEL_ROWS, "labels")
        self.measures = _table(self, MEASURE_ROWS, "measures")
        self.volume = _table(self, VOLUME_ROWS, "volume")
        self.volume_title = QLabel("Whole volume (3D label map)", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.description)
        layout.addWidget(self.labels)
        layout.addWidget(self.measures)
        layout.addWidget(self.volume_title)
        layout.addWidget(self.volume)
        layout.addStretch(1)
        self.set_semantics(None)

    def set_semantics(self, semantics) -> None:
        """Show ``semantics`` (a SliceSemantics), or an empty panel for None."""
        if semantics is None:
            self.description.setText("No slice selected.")
            for table in (self.labels, self.measures, self.volume):
                _fill(table, [], [])
                table.hide()
            self.volume_title.hide()
            return
        self.description.setText(semantics.description or self._no_description(semantics))
        regions, labels, measures = [], [], []
        for region in semantics.regions:
            regions.append(region.region)
            if region.is_empty:
                labels.append(["no lesion", "", "", ""])
                measures.append(["0", "", "", "", "0", "", ""])
                continue
            labels.append([region.label(field) or NO_VALUE for field in ("size", "shape", "spread", "location")])
            centroid = NO_VALUE if region.centroid is None else f"{region.centroid[0]:.0f}, {region.centroid[1]:.0f}"
            area_percent = None if region.area_ratio is None else 100 * region.area_ratio
            measures.append([str(region.area_px), _number(area_percent), _number(region.circularity),
                             _number(region.elongation), str(region.components),
                             _number(region.dominant_fraction), centroid])
        _fill(self.labels, regions, labels)
        _fill(self.measures, regions, measures)
        self.labels.setVisible(bool(regions))
        self.measures.setVisible(bool(regions))
        volume_regions = [summary.region for summary in semantics.volume]
        volume = [[_number(summary.volume_ml), str(summary.voxel_count), str(summary.slices_with_lesion),
                   NO_VALUE if summary.largest_slice_index is None else str(summary.largest_slice_index)]
                  for summary in semantics.volume]
        _fill(self.volume, volume_regions, volume)
        self.volume_title.setVisible(bool(volume_regions))
        self.volume.setVisible(bool(volume_regions))

    @staticmethod
    def _no_description(semantics) -> str:
        if not semantics.has_mask and not semantics.regions:
            return "No mask covers this slice, so it has no semantics."
        return "No coarse description stored for this slice."

    def cell(self, table: QTableWidget, row: str, region: str) -> str:
        """Return the text of quantity ``row`` for ``region`` (a region name as shown) in ``table``."""
        rows = [table.verticalHeaderItem(index).text() for index in range(table.rowCount())]
        columns = [table.horizontalHeaderItem(index).text() for index in range(table.columnCount())]
        item = table.item(rows.index(row), columns.index(region))
        return item.text() if item is not None else ""
