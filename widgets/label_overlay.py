"""The mask overlay layer of a slice view.

Label indices (uint8) are looked up in a 256-row RGBA table, so index ``k`` always takes
row ``k`` whatever labels the slice contains. Row 0 and hidden labels are transparent. The
overlay opacity scales the table's alpha channel instead of the item's opacity, because Qt
blends a whole image with a painter opacity several times slower than per-pixel alpha.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF

from engine.display.sources import LabelSliceSource
from engine.display.render import LabelRenderer
from widgets.overlay_settings import OUTLINE, OverlaySettings

OVERLAY_Z = 10


class LabelOverlayLayer(QObject):
    """Draws one label source over the image of a view box, following :class:`OverlaySettings`."""

    def __init__(self, view_box: pg.ViewBox, settings: OverlaySettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(OVERLAY_Z)
        view_box.addItem(self.item)
        self._source: LabelSliceSource | None = None
        self._index = 0
        self.indices: np.ndarray | None = None  # the label indices drawn, after fill/outline
        self._shape: tuple[int, int] | None = None
        self._settings = settings
        self._renderer = LabelRenderer()
        settings.visibleChanged.connect(self._on_settings_visible_changed)
        settings.opacityChanged.connect(self._on_settings_opacity_changed)
        settings.modeChanged.connect(self._on_settings_mode_changed)
        settings.labelVisibilityChanged.connect(self._on_settings_label_visibility_changed)
        self._update_visibility()

    @property
    def source(self) -> LabelSliceSource | None:
        return self._source

    def set_source(self, source: LabelSliceSource | None) -> None:
        self._source = source
        self._shape = None
        if source is None:
            self.item.clear()
        else:
            self._update_table()
        self._update_visibility()

    def show_slice(self, index: int) -> None:
        """Draw slice ``index`` of the source in the current fill/outline mode."""
        self._index = index
        if self._source is None or not self._settings.visible:
            return  # a hidden overlay is drawn when it is shown again
        if self._settings.mode == OUTLINE:
            indices = self._source.outline(index)
        else:
            indices = self._source.slice(index)
        self.indices = indices
        self.item.setImage(self._renderer.render(indices), autoLevels=False, levels=None)
        if self._shape != indices.shape:
            self._shape = indices.shape
            self.item.setRect(QRectF(*self._source.geometry.rect))

    def relayout(self) -> None:
        """Place the overlay again after the source's frame changed (convention, slice axis)."""
        self._shape = None
        self.show_slice(self._index)

    def rendered_rgba(self) -> np.ndarray | None:
        """Return the colours the overlay paints (rows x cols x RGBA), for checks and exports."""
        if self._source is None or self.item.image is None:
            return None
        self.item.render()
        qimage = self.item.qimage.convertToFormat(self.item.qimage.Format.Format_RGBA8888)
        rows, cols = qimage.height(), qimage.width()
        buffer = np.frombuffer(qimage.constBits(), dtype=np.uint8, count=qimage.sizeInBytes())
        return buffer.reshape(rows, qimage.bytesPerLine())[:, : cols * 4].reshape(rows, cols, 4).copy()

    def _update_visibility(self) -> None:
        self.item.setVisible(self._source is not None and self._settings.visible)

    def _on_settings_visible_changed(self, visible: bool) -> None:
        if visible:
            self.show_slice(self._index)
        self._update_visibility()

    def _update_table(self) -> None:
        table = self._source.label_map.lookup_table(self._settings.hidden_labels)
        self._renderer.set_table(table, self._settings.opacity)

    def _on_settings_opacity_changed(self, _opacity: float) -> None:
        if self._source is not None:
            self._update_table()
            self.show_slice(self._index)

    def _on_settings_mode_changed(self, _mode: str) -> None:
        self.show_slice(self._index)

    def _on_settings_label_visibility_changed(self, _value: int, _visible: bool) -> None:
        if self._source is not None:
            self._update_table()
            self.show_slice(self._index)
