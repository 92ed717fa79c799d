"""Graphics items of a slice view below and above the mask: the image with its NaN flag,
and the crosshair of a linked cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from engine.display.render import GreyRenderer

NAN_FLAG_COLOR = (255, 0, 255, 255)  # magenta under NaN voxels, which the image draws transparent
CROSSHAIR_COLOR = (0, 230, 118)
INDEX_LEVELS = (0, 256)  # uint8 index k takes row k of a 256-row lookup table


class ImageLayer:
    """The float32 slice, windowed with explicit levels, over a flag colour shown where it is NaN.

    The slice reaches the ImageItem as grey RGBA (see :mod:`engine.display.render`), so
    pyqtgraph passes it to Qt without levels or a lookup table of its own.
    """

    def __init__(self, view_box: pg.ViewBox) -> None:
        self.item = pg.ImageItem(axisOrder="row-major")
        view_box.addItem(self.item)
        self.pixels: np.ndarray | None = None
        self._nan_mask: np.ndarray | None = None
        self._levels = (0.0, 1.0)
        self._renderer = GreyRenderer()
        self.nan_item = pg.ImageItem(axisOrder="row-major")
        table = np.zeros((256, 4), dtype=np.uint8)
        table[1] = NAN_FLAG_COLOR
        self.nan_item.setLookupTable(table)
        self.nan_item.setZValue(-1)
        self.nan_item.hide()
        view_box.addItem(self.nan_item)
        self._shape: tuple[int, int] | None = None

    def show(self, pixels: np.ndarray, nan_mask: np.ndarray | None, rect: tuple, levels: tuple[float, float]) -> None:
        """Draw ``pixels`` in the millimetre ``rect`` (x, y, width, height); ``nan_mask`` is 1 at NaN."""
        self.pixels, self._nan_mask, self._levels = pixels, nan_mask, levels
        self._draw()
        if self._shape != pixels.shape:
            self._shape = pixels.shape
            self.item.setRect(QRectF(*rect))
            self.nan_item.setRect(QRectF(*rect))
        if nan_mask is not None:
            self.nan_item.setImage(nan_mask, levels=INDEX_LEVELS, autoLevels=False)
        self.nan_item.setVisible(nan_mask is not None)

    def set_levels(self, levels: tuple[float, float]) -> None:
        self._levels = levels
        if self.pixels is not None:
            self._draw()

    def _draw(self) -> None:
        rgba = self._renderer.render(self.pixels, self._levels, self._nan_mask)
        self.item.setImage(rgba, autoLevels=False, levels=None)

    def relayout(self) -> None:
        """Place the next slice again, because the rectangle changed (convention, slice axis)."""
        self._shape = None

    def clear(self) -> None:
        self.item.clear()
        self.nan_item.hide()
        self.pixels = self._nan_mask = None
        self._shape = None


class Crosshair:
    """Two cosmetic lines (one logical pixel wide at any zoom) through a scene point."""

    def __init__(self, view_box: pg.ViewBox) -> None:
        pen = pg.mkPen(CROSSHAIR_COLOR, width=1)
        self.lines = (pg.InfiniteLine(angle=90, pen=pen, movable=False),
                      pg.InfiniteLine(angle=0, pen=pen, movable=False))
        for line in self.lines:
            line.setZValue(20)
            line.hide()
            view_box.addItem(line, ignoreBounds=True)
        self.enabled = True

    @property
    def visible(self) -> bool:
        return self.lines[0].isVisible()

    @property
    def position(self) -> tuple[float, float]:
        """The scene point (x, y) in millimetres where the lines cross."""
        return float(self.lines[0].value()), float(self.lines[1].value())

    def show_at(self, x: float, y: float) -> None:
        self.lines[0].setValue(x)
        self.lines[1].setValue(y)
        for line in self.lines:
            line.setVisible(self.enabled)

    def hide(self) -> None:
        for line in self.lines:
            line.hide()
