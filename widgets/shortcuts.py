"""Keyboard and mouse bindings of the viewer, in one table.

The slice views look keys up here, and the main window can list :data:`SHORTCUTS` in its
shortcut sheet. Keys are written in Qt's portable key-sequence text (``"PgUp"``, ``"Ctrl+1"``).
Mouse rows (``kind == "mouse"``) only document bindings the views implement in their
mouse handlers.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence

PAGE_STEP = 10  # slices moved by PgUp/PgDn
OPACITY_STEP = 0.05  # overlay opacity change per key press, as in ITK-SNAP


@dataclass(frozen=True)
class Shortcut:
    """One binding: ``action`` is the id the views dispatch on, ``keys`` the key sequences."""

    action: str
    keys: tuple[str, ...]
    description: str
    group: str
    kind: str = "key"


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("slice.next", ("Up", "Right"), "Next slice (towards superior, anterior or right)", "Slices"),
    Shortcut("slice.previous", ("Down", "Left"), "Previous slice", "Slices"),
    Shortcut("slice.page_next", ("PgUp",), f"{PAGE_STEP} slices forward", "Slices"),
    Shortcut("slice.page_previous", ("PgDown",), f"{PAGE_STEP} slices back", "Slices"),
    Shortcut("slice.first", ("Home",), "First slice (most inferior, posterior or left)", "Slices"),
    Shortcut("slice.last", ("End",), "Last slice (most superior, anterior or right)", "Slices"),
    Shortcut("slice.wheel", ("Wheel",), "Wheel up: next slice; wheel down: previous slice", "Slices", "mouse"),
    Shortcut("window.auto", ("1",), "Window preset: auto (1st to 99th percentile)", "Window/level"),
    Shortcut("window.full", ("2",), "Window preset: full intensity range", "Window/level"),
    Shortcut("window.header", ("3",), "Window preset: DICOM header window (repeat to cycle)", "Window/level"),
    Shortcut("window.drag", ("Right-drag",), "Drag right: wider window; drag down: higher level", "Window/level", "mouse"),
    Shortcut("view.zoom_in", ("+", "="), "Zoom in", "View"),
    Shortcut("view.zoom_out", ("-",), "Zoom out", "View"),
    Shortcut("view.reset", ("0",), "Fit the slice to the view", "View"),
    Shortcut("view.zoom_wheel", ("Ctrl+Wheel",), "Zoom around the cursor", "View", "mouse"),
    Shortcut("view.pan", ("Left-drag", "Middle-drag"), "Pan", "View", "mouse"),
    Shortcut("view.convention", ("N",), "Switch radiological / neurological convention", "View"),
    Shortcut("view.crosshair", ("X",), "Show or hide the linked cursor crosshair", "View"),
    Shortcut("overlay.toggle", ("S",), "Show or hide the mask overlay", "Overlay"),
    Shortcut("overlay.opacity_down", ("A",), f"Overlay opacity -{OPACITY_STEP:.0%}", "Overlay"),
    Shortcut("overlay.opacity_up", ("D",), f"Overlay opacity +{OPACITY_STEP:.0%}", "Overlay"),
    Shortcut("overlay.outline", ("O",), "Switch the overlay between fill and outline", "Overlay"),
    Shortcut("linked.toggle", ("L",), "Link or unlink the panes", "Linked views"),
    Shortcut("linked.panes_1", ("Ctrl+1",), "Show one pane", "Linked views"),
    Shortcut("linked.panes_2", ("Ctrl+2",), "Show two panes", "Linked views"),
    Shortcut("linked.panes_4", ("Ctrl+4",), "Show four panes", "Linked views"),
)


def _normalised(text: str) -> str:
    return QKeySequence(text).toString(QKeySequence.SequenceFormat.PortableText)


_ACTION_OF_KEY: dict[str, str] = {
    _normalised(key): shortcut.action
    for shortcut in SHORTCUTS if shortcut.kind == "key"
    for key in shortcut.keys
}


def shortcut(action: str) -> Shortcut:
    """Return the binding of ``action``; raises KeyError for an unknown action."""
    for entry in SHORTCUTS:
        if entry.action == action:
            return entry
    raise KeyError(action)


def key_sequences(action: str) -> list[QKeySequence]:
    """Return the key sequences of ``action``, for QAction.setShortcuts in the main window."""
    return [QKeySequence(key) for key in shortcut(action).keys]


def action_for_event(event: QKeyEvent) -> str | None:
    """Return the action bound to a key press, or None.

    Shift is ignored for keys that have no binding with Shift, so "+" typed as Shift+= on a
    US keyboard and the keypad keys still match.
    """
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    combination = QKeySequence(event.key() | modifiers.value).toString(QKeySequence.SequenceFormat.PortableText)
    action = _ACTION_OF_KEY.get(combination)
    if action is None and modifiers & Qt.KeyboardModifier.ShiftModifier:
        plain = modifiers & ~Qt.KeyboardModifier.ShiftModifier
        action = _ACTION_OF_KEY.get(QKeySequence(event.key() | plain.value).toString(QKeySequence.SequenceFormat.PortableText))
    return action
