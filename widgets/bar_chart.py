"""A grouped bar chart (pyqtgraph): one group per category, one bar per series.

Values are shares from 0 to 1 and are drawn in percent; None leaves a gap. Clicking a bar
emits ``barClicked(series, category)``.
"""

from __future__ import annotations

from typing import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

# Colours of the first series (tab10); later series repeat them.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
GROUP_WIDTH = 0.8


class GroupedBarChart(QWidget):
    """Bars of several series over shared categories, with a legend and category ticks."""

    barClicked = Signal(str, str)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(title=title)
        self.plot.setLabel("left", "accuracy", units="%")
        self.plot.setYRange(0, 100)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self._legend = self.plot.addLegend(offset=(-10, 10))
        self._categories: list[str] = []
        self._series: list[tuple[str, list[float | None]]] = []
        self._items: list[pg.BarGraphItem] = []
        self.plot.scene().sigMouseClicked.connect(self._on_scene_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_data(self, categories: Sequence[str],
                 series: Sequence[tuple[str, Sequence[float | None]]]) -> None:
        """Draw ``series`` (name, one share per category) over ``categories``."""
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        self._legend.clear()
        self._categories = list(categories)
        self._series = [(name, list(values)) for name, values in series]
        count = max(len(self._series), 1)
        width = GROUP_WIDTH / count
        for index, (name, values) in enumerate(self._series):
            xs, heights = [], []
            for position, value in enumerate(values):
                if value is None:
                    continue
                xs.append(position - GROUP_WIDTH / 2 + width * (index + 0.5))
                heights.append(100.0 * value)
            colour = COLOURS[index % len(COLOURS)]
            item = pg.BarGraphItem(x=xs, height=heights, width=width * 0.9, brush=colour,
                                   pen=pg.mkPen(colour), name=name)
            self.plot.addItem(item)
            self._legend.addItem(item, name)
            self._items.append(item)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(position, label) for position, label in enumerate(self._categories)]])
        self.plot.setXRange(-0.6, max(len(self._categories) - 0.4, 0.6), padding=0)

    def values(self) -> dict[str, list[float | None]]:
        """Return the drawn shares per series, in category order (for tests and export)."""
        return {name: list(values) for name, values in self._series}

    @property
    def categories(self) -> list[str]:
        return list(self._categories)

    def bar_at(self, x: float, y: float) -> tuple[str, str] | None:
        """Return the (series, category) of the bar under plot position (x, y) in percent."""
        width = GROUP_WIDTH / max(len(self._series), 1)
        position = round(x)
        if not 0 <= position < len(self._categories):
            return None
        offset = x - (position - GROUP_WIDTH / 2)
        if offset < 0:
            return None
        index = int(offset // width)
        if index >= len(self._series):
            return None
        name, values = self._series[index]
        value = values[position] if position < len(values) else None
        if value is None or not 0 <= y <= 100.0 * value:
            return None
        return name, self._categories[position]

    def bar_centre(self, series: str, category: str) -> tuple[float, float]:
        """Return the plot position (x, y in percent) of the middle of a bar."""
        names = [name for name, _values in self._series]
        index, position = names.index(series), self._categories.index(category)
        width = GROUP_WIDTH / max(len(self._series), 1)
        value = self._series[index][1][position] or 0.0
        return position - GROUP_WIDTH / 2 + width * (index + 0.5), 50.0 * value

    def _on_scene_clicked(self, event) -> None:  # noqa: ANN001 - a pyqtgraph mouse event
        view = self.plot.getPlotItem().vb
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        point = view.mapSceneToView(event.scenePos())
        bar = self.bar_at(point.x(), point.y())
        if bar is not None:
            self.barClicked.emit(*bar)
