"""The legend of a label-map overlay: colour, name, visibility and area on the current slice."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from engine.display.labels import LabelMap
from widgets.overlay_settings import OverlaySettings

NAME, VALUE, PIXELS, AREA = range(4)
HEADERS = ("Label", "Value", "Pixels", "Area (mm²)")
SYNTHETIC_TAG_STYLE = "QLabel { color: white; background: #b71c1c; font-weight: bold; padding: 1px 5px; }"


class LegendModel(QAbstractTableModel):
    """One row per label present in the map: swatch, name, value, pixels and mm² on this slice.

    The check box of the name column shows and hides the label through :class:`OverlaySettings`.
    """

    def __init__(self, settings: OverlaySettings, parent=None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._label_map: LabelMap | None = None
        self._values: list[int] = []
        self._indices: list[int] = []
        self._pixels = np.zeros(0, dtype=np.int64)
        self._pixel_area_mm2 = 1.0
        settings.labelVisibilityChanged.connect(self._on_settings_label_visibility_changed)

    def set_label_map(self, label_map: LabelMap | None, pixel_area_mm2: float = 1.0) -> None:
        self.beginResetModel()
        self._label_map = label_map
        self._values = label_map.present_values() if label_map is not None else []
        self._indices = [label_map.index_of(v) for v in self._values] if label_map is not None else []
        self._pixels = np.zeros(len(self._values), dtype=np.int64)
        self._pixel_area_mm2 = float(pixel_area_mm2)
        self.endResetModel()

    def set_counts(self, counts: np.ndarray) -> None:
        """Take the pixel count of each label index on the slice now shown."""
        if not self._values:
            return
        self._pixels = np.asarray(counts)[self._indices].astype(np.int64)
        self.dataChanged.emit(self.index(0, PIXELS), self.index(len(self._values) - 1, AREA))

    def value_at(self, row: int) -> int:
        return self._values[row]

    def pixels(self, value: int) -> int:
        """Return the pixel count of label ``value`` on the current slice."""
        return int(self._pixels[self._values.index(value)])

    def area_mm2(self, value: int) -> float:
        return self.pixels(value) * self._pixel_area_mm2

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._values)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index):
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == NAME:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._label_map is None:
            return None
        row, column = index.row(), index.column()
        value = self._values[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column, value)
        if role == Qt.ItemDataRole.UserRole:
            return (value, value, int(self._pixels[row]), float(self._pixels[row] * self._pixel_area_mm2))[column]
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return QColor(*(int(c) for c in self._label_map.colors[self._indices[row]]))
        if role == Qt.ItemDataRole.CheckStateRole and column == NAME:
            visible = self._settings.is_label_visible(value)
            return Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.TextAlignmentRole and column != NAME:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != NAME:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked
        self._settings.set_label_visible(self._values[index.row()], checked)
        return True

    def _display(self, row: int, column: int, value: int):
        if column == NAME:
            return self._label_map.name_of(value)
        if column == VALUE:
            return str(value)
        if column == PIXELS:
            return str(int(self._pixels[row]))
        return f"{self._pixels[row] * self._pixel_area_mm2:.1f}"

    def _on_settings_label_visibility_changed(self, value: int, _visible: bool) -> None:
        if value in self._values:
            row = self._values.index(value)
            self.dataChanged.emit(self.index(row, NAME), self.index(row, NAME), [Qt.ItemDataRole.CheckStateRole])


class _OnSliceFilter(QSortFilterProxyModel):
    """Hides labels with no pixel on the current slice while ``enabled``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.enabled = False

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if not self.enabled:
            return True
        return self.sourceModel().index(source_row, PIXELS, source_parent).data(Qt.ItemDataRole.UserRole) > 0


class LabelLegend(QWidget):
    """The legend widget: map name, a synthetic tag, and the label table.

    Follow a view with :meth:`attach`, or drive it with :meth:`set_label_map` and
    :meth:`set_counts`.
    """

    def __init__(self, settings: OverlaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LegendModel(settings, self)
        self._filter = _OnSliceFilter(self)
        self._filter.setSourceModel(self.model)
        self._title = QLabel(self)
        self._synthetic_tag = QLabel("synthetic", self)
        self._synthetic_tag.setObjectName("synthetic_tag")
        self._synthetic_tag.setStyleSheet(SYNTHETIC_TAG_STYLE)
        self._synthetic_tag.setToolTip("This mask was generated, not drawn by an expert")
        self._synthetic_tag.hide()
        self.only_on_slice = QCheckBox("Only labels on this slice", self)
        self.only_on_slice.toggled.connect(self._on_only_on_slice_toggled)
        self.table = QTableView(self)
        self.table.setModel(self._filter)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (VALUE, PIXELS, AREA):
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        title_row = QHBoxLayout()
        title_row.addWidget(self._title, 1)
        title_row.addWidget(self._synthetic_tag)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(title_row)
        layout.addWidget(self.only_on_slice)
        layout.addWidget(self.table, 1)

    @property
    def synthetic_tag_visible(self) -> bool:
        return not self._synthetic_tag.isHidden()

    def attach(self, view) -> None:
        """Follow ``view`` (a :class:`~widgets.slice_view.SliceView`): its label map and slice counts."""
        view.labelSourceChanged.connect(self._on_view_label_source_changed)
        view.labelCountsChanged.connect(self.set_counts)
        self._on_view_label_source_changed(view.label_source)
        if view.label_source is not None:
            self.set_counts(view.label_source.counts(view.slice_index))

    def set_label_map(self, label_map: LabelMap | None, pixel_area_mm2: float = 1.0) -> None:
        self.model.set_label_map(label_map, pixel_area_mm2)
        self._title.setText(label_map.name if label_map is not None else "No mask")
        self._synthetic_tag.setVisible(label_map is not None and label_map.is_synthetic)

    def set_counts(self, counts: np.ndarray) -> None:
        self.model.set_counts(counts)
        if self._filter.enabled:
            self._filter.invalidate()

    def _on_view_label_source_changed(self, source) -> None:
        if source is None:
            self.set_label_map(None)
        else:
            self.set_label_map(source.label_map, source.geometry.pixel_area_mm2)

    def _on_only_on_slice_toggled(self, checked: bool) -> None:
        self._filter.enabled = checked
        self._filter.invalidate()
