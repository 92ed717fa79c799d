"""The pyqtgraph ViewBox of a slice view, with the mouse bindings of medical viewers."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

WHEEL_STEP = 120  # angle delta of one wheel notch (1/8 degree units, 15 degrees)


class SliceViewBox(pg.ViewBox):
    """A ViewBox where the wheel moves through slices and the right button sets window/level.

    Wheel: ``sigSliceScrolled(steps)``, positive for wheel up (next slice); high-resolution
    wheels and touchpads add up to whole notches. Ctrl+wheel zooms around the cursor.
    Right-drag: ``sigWindowDragged(dx, dy)`` in logical screen pixels since the last move,
    replacing pyqtgraph's right-drag zoom. Left- and middle-drag pan. The aspect ratio is
    locked, y grows downwards and there is no context menu.
    """

    sigSliceScrolled = Signal(int)
    sigWindowDragged = Signal(float, float)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("lockAspect", True)
        kwargs.setdefault("invertY", True)
        kwargs.setdefault("enableMenu", False)
        kwargs.setdefault("defaultPadding", 0.0)
        super().__init__(**kwargs)
        self._wheel_remainder = 0

    def wheelEvent(self, ev, axis=None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        self._wheel_remainder += ev.delta()
        steps = int(self._wheel_remainder / WHEEL_STEP)
        if steps:
            self._wheel_remainder -= steps * WHEEL_STEP
            self.sigSliceScrolled.emit(steps)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            moved = ev.screenPos() - ev.lastScreenPos()
            if moved.x() or moved.y():
                self.sigWindowDragged.emit(float(moved.x()), float(moved.y()))
            return
        super().mouseDragEvent(ev, axis)
