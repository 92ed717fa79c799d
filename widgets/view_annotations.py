"""Text pinned to the edges and corners of a slice view: orientation letters, title, window
and the synthetic-mask banner.

The text is painted in the graphics view's foreground, in viewport coordinates: logical
pixels, so it keeps its size and stays sharp on high-DPI screens whatever the zoom. Painting
it there costs less than child label widgets, which Qt would repaint with every frame.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter

MARGIN = 4  # logical pixels between a text box and the view edge
PADDING = (4, 1)  # horizontal and vertical padding inside a text box, logical pixels
EDGES = ("top", "bottom", "left", "right")
CORNERS = ("top_left", "bottom_left", "top_right", "bottom_right")
SLOTS = EDGES + CORNERS + ("banner",)


def _font(pixels: int, bold: bool) -> QFont:
    font = QFont()
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


# slot kind -> (font, text colour, box colour)
STYLES = {
    "letter": (_font(15, True), QColor(255, 213, 79), QColor(0, 0, 0, 110)),
    "corner": (_font(12, False), QColor(224, 224, 224), QColor(0, 0, 0, 90)),
    "banner": (_font(12, True), QColor(255, 255, 255), QColor(183, 28, 28, 200)),
}


def _kind(slot: str) -> str:
    if slot in EDGES:
        return "letter"
    if slot == "banner":
        return "banner"
    return "corner"


class ViewAnnotations:
    """The texts of one graphics view; :class:`AnnotatedGraphicsView` paints them."""

    def __init__(self, view) -> None:
        self._view = view
        self._texts = {slot: "" for slot in SLOTS}
        self._metrics = {kind: QFontMetrics(font) for kind, (font, _, _) in STYLES.items()}

    def text(self, slot: str) -> str:
        return self._texts[slot]

    def set_letters(self, letters: dict[str, str]) -> None:
        """Show ``letters`` (edge -> letter); an empty or missing letter hides its edge."""
        for edge in EDGES:
            self._set(edge, letters.get(edge, ""))

    def set_corner(self, corner: str, text: str) -> None:
        self._set(corner, text)

    def set_banner(self, text: str) -> None:
        """Show ``text`` in the banner under the top letter, or hide it when ``text`` is empty."""
        self._set("banner", text)

    def rect_of(self, slot: str) -> QRect | None:
        """Return the box of ``slot`` in viewport coordinates (logical pixels), or None if empty."""
        text = self._texts[slot]
        if not text:
            return None
        viewport = self._view.viewport().rect()
        width, height = self._box_size(slot, text)
        if slot in CORNERS:
            x = MARGIN if slot.endswith("left") else viewport.width() - width - MARGIN
            y = MARGIN if slot.startswith("top") else viewport.height() - height - MARGIN
        elif slot in ("top", "bottom", "banner"):
            x = (viewport.width() - width) // 2
            if slot == "top":
                y = MARGIN
            elif slot == "bottom":
                y = viewport.height() - height - MARGIN
            else:
                top = self.rect_of("top")
                y = MARGIN if top is None else top.bottom() + 1 + MARGIN
        else:
            x = MARGIN if slot == "left" else viewport.width() - width - MARGIN
            y = (viewport.height() - height) // 2
        return QRect(x, y, width, height)

    def paint(self, painter: QPainter) -> None:
        """Paint every non-empty text; ``painter`` must be in viewport coordinates."""
        for slot in SLOTS:
            rect = self.rect_of(slot)
            if rect is None:
                continue
            font, colour, box = STYLES[_kind(slot)]
            painter.fillRect(rect, box)
            painter.setFont(font)
            painter.setPen(colour)
            painter.drawText(QRectF(rect), Qt.AlignmentFlag.AlignCenter, self._texts[slot])

    def _box_size(self, slot: str, text: str) -> tuple[int, int]:
        metrics = self._metrics[_kind(slot)]
        return metrics.horizontalAdvance(text) + 2 * PADDING[0], metrics.height() + 2 * PADDING[1]

    def _set(self, slot: str, text: str) -> None:
        if self._texts[slot] == text:
            return
        before = self.rect_of(slot)
        self._texts[slot] = text
        after = self.rect_of(slot)
        viewport = self._view.viewport()
        for rect in (before, after):
            if rect is not None:
                viewport.update(rect)
        if slot == "top":
            viewport.update()  # the banner moves with the top letter


class AnnotatedGraphicsView(pg.GraphicsView):
    """A pyqtgraph GraphicsView that paints :class:`ViewAnnotations` over the scene."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.annotations = ViewAnnotations(self)

    def drawForeground(self, painter: QPainter, rect) -> None:
        super().drawForeground(painter, rect)
        painter.save()
        painter.resetTransform()
        self.annotations.paint(painter)
        painter.restore()
