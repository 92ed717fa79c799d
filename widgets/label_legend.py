"""The legend of a label-map overlay: colour, name, visibility and area on the current slice."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from engine.display.labels import DisplayLabelMap
from widgets.overlay_settings import OverlaySettings

NAME, VALUE, PIXELS, AREA = range(4)
HEADERS = ("Label", "Value", "Pixels", "Area (mm²)")
REFRESH_MS = 100  # maximum delay before the table shows new slice counts
SYNTHETIC_TAG_STYLE = "QLabel { color: white; background: #b71c1c; font-weight: bold; padding: 1px 5px; }"


# Roles as plain ints: views pass ints to data(), and comparing an int with a PySide6 enum
# member costs several times more, which adds up to milliseconds per legend repaint.
DISPLAY = Qt.ItemDataRole.DisplayRole.value
DECORATION = Qt.ItemDataRole.DecorationRole.value
CHECK_STATE = Qt.ItemDataRole.CheckStateRole.value
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole.value
USER = Qt.ItemDataRole.UserRole.value
RIGHT_ALIGNED = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
CHECKED = Qt.CheckState.Checked.value
UNCHECKED = Qt.CheckState.Unchecked.value
NAME_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
OTHER_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class LegendModel(QAbstractTableModel):
    """One row per label present in the map: swatch, name, value, pixels and mm² on this slice.

    The check box of the name column shows and hides the label through :class:`OverlaySettings`.
    """

    def __init__(self, settings: OverlaySettings, parent=None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._label_map: DisplayLabelMap | None = None
        self._values: list[int] = []
        self._indices: list[int] = []
        self._names: list[str] = []
        self._value_texts: list[str] = []
        self._colors: list[QColor] = []
        self._pixels = np.zeros(0, dtype=np.int64)
        self._pixel_texts: list[str] = []
        self._area_texts: list[str] = []
        self._pixel_area_mm2 = 1.0
        self._unnotified: np.ndarray | None = None
        settings.labelVisibilityChanged.connect(self._on_settings_label_visibility_changed)

    def set_label_map(self, label_map: DisplayLabelMap | None, pixel_area_mm2: float = 1.0) -> None:
        self.beginResetModel()
        self._label_map = label_map
        self._values = label_map.present_values() if label_map is not None else []
        self._indices = [label_map.index_of(v) for v in self._values] if label_map is not None else []
        self._names = [label_map.name_of(v) for v in self._values] if label_map is not None else []
        self._value_texts = [str(v) for v in self._values]
        self._colors = [QColor(*(int(c) for c in label_map.colors[i])) for i in self._indices]
        self._pixel_area_mm2 = float(pixel_area_mm2)
        self._unnotified = None
        self._store_pixels(np.zeros(len(self._values), dtype=np.int64))
        self.endResetModel()

    def set_counts(self, counts: np.ndarray, notify: bool = True) -> None:
        """Take the pixel count of each label index on the slice now shown.

        With ``notify`` False the data changes without telling the views; call
        :meth:`notify_counts_changed` later to repaint them once for several updates.
        """
        if not self._values:
            return
        pixels = np.asarray(counts)[self._indices].astype(np.int64)
        changed = pixels != self._pixels
        self._unnotified = changed if self._unnotified is None else (self._unnotified | changed)
        self._store_pixels(pixels)
        if notify:
            self.notify_counts_changed()

    def notify_counts_changed(self) -> None:
        """Tell the views which rows changed since the last notification."""
        if self._unnotified is None:
            return
        changed = np.flatnonzero(self._unnotified)
        self._unnotified = None
        if changed.size:
            # One signal over the changed rows: views repaint only what they show of it.
            self.dataChanged.emit(self.index(int(changed[0]), PIXELS), self.index(int(changed[-1]), AREA))

    def _store_pixels(self, pixels: np.ndarray) -> None:
        self._pixels = pixels
        self._pixel_texts = [str(n) for n in pixels.tolist()]
        self._area_texts = [f"{n * self._pixel_area_mm2:.1f}" for n in pixels.tolist()]

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

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY:
            return HEADERS[section]
        return None

    def flags(self, index):
        return NAME_FLAGS if index.column() == NAME else OTHER_FLAGS

    def data(self, index, role=DISPLAY):
        row, column = index.row(), index.column()
        if row >= len(self._values):
            return None
        if role == DISPLAY:
            if column == NAME:
                return self._names[row]
            if column == VALUE:
                return self._value_texts[row]
            return self._pixel_texts[row] if column == PIXELS else self._area_texts[row]
        if column == NAME:
            if role == DECORATION:
                return self._colors[row]
            if role == CHECK_STATE:
                return CHECKED if self._settings.is_label_visible(self._values[row]) else UNCHECKED
        elif role == ALIGNMENT:
            return RIGHT_ALIGNED
        if role == USER:
            pixels = int(self._pixels[row])
            return (self._values[row], self._values[row], pixels, pixels * self._pixel_area_mm2)[column]
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != CHECK_STATE or index.column() != NAME:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked
        self._settings.set_label_visible(self._values[index.row()], checked)
        return True

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
        return self.sourceModel().index(source_row, PIXELS, source_parent).data(USER) > 0


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
        # Repainting a long table costs several milliseconds, so while the user scrolls the
        # legend follows at a lower rate than the image (its model is always current).
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self.only_on_slice = QCheckBox("Only labels on this slice", self)
        self.only_on_slice.toggled.connect(self._on_only_on_slice_toggled)
        self.table = QTableView(self)
        self.table.setModel(self._filter)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        # Fixed widths: ResizeToContents would measure every row on each slice change.
        metrics = self.table.fontMetrics()
        for column, widest in ((VALUE, "65535"), (PIXELS, "262144"), (AREA, "99999.9")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            text_width = max(metrics.horizontalAdvance(widest), metrics.horizontalAdvance(HEADERS[column]))
            header.resizeSection(column, text_width + 16)

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

    def set_label_map(self, label_map: DisplayLabelMap | None, pixel_area_mm2: float = 1.0) -> None:
        self.model.set_label_map(label_map, pixel_area_mm2)
        self._title.setText(label_map.name if label_map is not None else "No mask")
        self._synthetic_tag.setVisible(label_map is not None and label_map.is_synthetic)

    def set_counts(self, counts: np.ndarray) -> None:
        """Take the counts of a new slice; the table repaints at most every REFRESH_MS."""
        self.model.set_counts(counts, notify=False)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _on_refresh_timer_timeout(self) -> None:
        self.model.notify_counts_changed()
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
