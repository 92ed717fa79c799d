"""Text pinned to the edges and corners of a slice view: orientation letters, title, window
and the synthetic-mask banner.

The labels are child widgets of the view, laid out in logical pixels, so they keep their size
and stay sharp on high-DPI screens whatever the zoom of the image.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

MARGIN = 4  # logical pixels between a label and the view edge
LETTER_STYLE = ("QLabel { color: #ffd54f; background: rgba(0, 0, 0, 110); font-weight: bold;"
                " font-size: 15px; padding: 0px 3px; }")
CORNER_STYLE = "QLabel { color: #e0e0e0; background: rgba(0, 0, 0, 90); font-size: 12px; padding: 1px 3px; }"
BANNER_STYLE = ("QLabel { color: white; background: rgba(183, 28, 28, 200); font-weight: bold;"
                " font-size: 12px; padding: 2px 6px; }")
EDGES = ("top", "bottom", "left", "right")
CORNERS = ("top_left", "bottom_left", "top_right", "bottom_right")


def _overlay_label(host: QWidget, style: str, name: str) -> QLabel:
    label = QLabel(host)
    label.setObjectName(name)
    label.setStyleSheet(style)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    label.hide()
    return label


class ViewAnnotations(QObject):
    """Labels on top of ``host``: one letter per edge, text per corner and a banner at the top."""

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self._host = host
        self.letters = {edge: _overlay_label(host, LETTER_STYLE, f"letter_{edge}") for edge in EDGES}
        self.corners = {corner: _overlay_label(host, CORNER_STYLE, corner) for corner in CORNERS}
        self.banner = _overlay_label(host, BANNER_STYLE, "banner")
        host.installEventFilter(self)

    def set_letters(self, letters: dict[str, str]) -> None:
        """Show ``letters`` (edge -> letter); empty letters hide their label."""
        for edge, label in self.letters.items():
            self._set_text(label, letters.get(edge, ""))
        self._place()

    def set_corner(self, corner: str, text: str) -> None:
        self._set_text(self.corners[corner], text)
        self._place_corner(corner)

    def set_banner(self, text: str) -> None:
        """Show ``text`` in the banner, or hide it when ``text`` is empty."""
        self._set_text(self.banner, text)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:
            label.setText(text)
            label.adjustSize()
        label.setVisible(bool(text))
        if text:
            label.raise_()

    def _place(self) -> None:
        width, height = self._host.width(), self._host.height()
        top, bottom, left, right = (self.letters[edge] for edge in EDGES)
        top.move((width - top.width()) // 2, MARGIN)
        bottom.move((width - bottom.width()) // 2, height - bottom.height() - MARGIN)
        left.move(MARGIN, (height - left.height()) // 2)
        right.move(width - right.width() - MARGIN, (height - right.height()) // 2)
        below_letter = MARGIN + (0 if top.isHidden() else top.height() + MARGIN)
        self.banner.move((width - self.banner.width()) // 2, below_letter)
        for corner in CORNERS:
            self._place_corner(corner)

    def _place_corner(self, corner: str) -> None:
        label = self.corners[corner]
        width, height = self._host.width(), self._host.height()
        x = MARGIN if corner.endswith("left") else width - label.width() - MARGIN
        y = MARGIN if corner.startswith("top") else height - label.height() - MARGIN
        label.move(x, y)
