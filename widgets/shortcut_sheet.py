"""The shortcut sheet: every key and mouse binding of the viewer, the main window and the
research windows."""

from __future__ import annotations

from html import escape
from typing import Iterable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from widgets.research_shortcuts import RESEARCH_SHORTCUTS
from widgets.shortcuts import SHORTCUTS, Shortcut
from widgets.window_shortcuts import WINDOW_SHORTCUTS


def sheet_html(shortcuts: Iterable[Shortcut]) -> str:
    """Return the bindings as HTML tables, one per group, in table order."""
    groups: dict[str, list[Shortcut]] = {}
    for entry in shortcuts:
        groups.setdefault(entry.group, []).append(entry)
    parts = []
    for group, entries in groups.items():
        rows = "".join(
            f"<tr><td><b>{escape(' / '.join(entry.keys))}</b></td><td>{escape(entry.description)}</td></tr>"
            for entry in entries
        )
        parts.append(f"<h3>{escape(group)}</h3><table cellpadding='3'>{rows}</table>")
    return "".join(parts)


class ShortcutSheet(QDialog):
    """A dialog listing :data:`SHORTCUTS`, :data:`WINDOW_SHORTCUTS` and :data:`RESEARCH_SHORTCUTS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse shortcuts")
        self.text = QTextBrowser(self)
        self.text.setHtml(sheet_html((*SHORTCUTS, *WINDOW_SHORTCUTS, *RESEARCH_SHORTCUTS)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(560, 640)
