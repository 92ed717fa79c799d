"""Mouse and wheel events sent to a slice view the way Qt delivers them from a real mouse.

The events go to the graphics viewport, so pyqtgraph's scene, drag detection and view box
handle them as they would in the application.
"""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

NO_BUTTON = Qt.MouseButton.NoButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def viewport_of(view):
    return view._graphics.viewport()


def viewport_point(view, x: float, y: float) -> QPointF:
    """Return the viewport position of scene millimetre point (x, y) of ``view``."""
    scene_point = view.view_box.mapViewToScene(QPointF(x, y))
    return QPointF(view._graphics.mapFromScene(scene_point))


def _send_mouse(widget, kind, position: QPointF, button, buttons, modifiers=NO_MODIFIER) -> None:
    global_position = QPointF(widget.mapToGlobal(position.toPoint()))
    event = QMouseEvent(kind, position, global_position, button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def mouse_move(view, position: QPointF, buttons=NO_BUTTON) -> None:
    _send_mouse(viewport_of(view), QEvent.Type.MouseMove, position, NO_BUTTON, buttons)


def mouse_drag(view, start: QPointF, end: QPointF, button, steps: int = 6) -> None:
    """Press ``button`` at ``start``, move in ``steps`` to ``end`` and release there."""
    viewport = viewport_of(view)
    _send_mouse(viewport, QEvent.Type.MouseButtonPress, start, button, button)
    for step in range(1, steps + 1):
        fraction = step / steps
        point = QPointF(start.x() + (end.x() - start.x()) * fraction, start.y() + (end.y() - start.y()) * fraction)
        _send_mouse(viewport, QEvent.Type.MouseMove, point, NO_BUTTON, button)
    _send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, button, NO_BUTTON)


def wheel(view, position: QPointF, angle_delta: int, modifiers=NO_MODIFIER) -> None:
    """Turn the wheel by ``angle_delta`` eighths of a degree (120 per notch) at ``position``."""
    viewport = viewport_of(view)
    global_position = QPointF(viewport.mapToGlobal(position.toPoint()))
    event = QWheelEvent(position, global_position, QPoint(0, 0), QPoint(0, angle_delta), NO_BUTTON, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def leave(view) -> None:
    QApplication.sendEvent(viewport_of(view), QEvent(QEvent.Type.Leave))


@pytest.fixture(autouse=True)
def delete_closed_widgets(qapp):
    """Delete the widgets earlier tests closed, then collect their Python wrappers, here.

    pytest-qt only closes a test's widgets and calls deleteLater. A closed window that the
    garbage collector frees later can go in the middle of another window's paint event.
    """
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    yield


@pytest.fixture
def show_widget(qtbot):
    """Return a function that shows a widget and keeps it referenced until teardown.

    qtbot keeps only weak references. Without a strong one, a widget in a reference cycle
    becomes garbage when the test function returns, and the collector then deleted it
    while pytest-qt was painting it, which crashed the interpreter.
    """
    kept = []

    def show(widget, width: int = 520, height: int = 560):
        qtbot.addWidget(widget)
        kept.append(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    yield show
    kept.clear()
