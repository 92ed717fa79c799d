"""Keep windows that the workbench places itself on the screen's available area."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QWidget


def fit_rect(rect: QRect, available: QRect) -> QRect:
    """Return ``rect`` shrunk to at most the size of ``available`` and moved inside it.

    A rectangle that already lies inside ``available`` is returned unchanged. One that sticks
    out keeps its size where it fits and moves just far enough to lie inside.
    """
    width = min(rect.width(), available.width())
    height = min(rect.height(), available.height())
    x = min(max(rect.x(), available.x()), available.x() + available.width() - width)
    y = min(max(rect.y(), available.y()), available.y() + available.height() - height)
    return QRect(x, y, width, height)


def fit_to_screen(widget: QWidget, reference: QWidget | None = None) -> bool:
    """Move and shrink top-level ``widget`` so its frame lies on the available screen area.

    The screen is the one ``reference`` (for example the main window) is on, else the
    widget's own, and its available geometry leaves out task bars and docks. A widget whose
    minimum size is larger than that area keeps its minimum size and starts at the area's
    top-left corner. Returns True when the geometry changed.
    """
    screen = (reference or widget).screen()
    if screen is None:
        return False
    frame = widget.frameGeometry()
    fitted = fit_rect(frame, screen.availableGeometry())
    if fitted == frame:
        return False
    margin_width = frame.width() - widget.width()
    margin_height = frame.height() - widget.height()
    widget.resize(fitted.width() - margin_width, fitted.height() - margin_height)
    widget.move(fitted.topLeft())
    return True
