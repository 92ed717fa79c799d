"""The research windows attached to the main window: menus, keys, docs and the start-up hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QKeySequence

from app.screen_fit import fit_rect
from app_data import demo_db, demo_template  # noqa: F401
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, settle_tasks  # noqa: F401
from widgets.research_shortcuts import RESEARCH_SHORTCUTS
from widgets.shortcut_sheet import ShortcutSheet
from widgets.shortcuts import SHORTCUTS, key_sequences
from widgets.window_shortcuts import WINDOW_SHORTCUTS
from window_fixtures import app_settings, make_window, settings_path  # noqa: F401

pytestmark = pytest.mark.gui

DOC = Path(__file__).resolve().parents[1] / "docs" / "research-workflows.md"


def test_research_keys_differ_from_other_keys():
    viewer = {sequence.toString() for entry in SHORTCUTS if entry.kind == "key"
              for sequence in key_sequences(entry.action)}
    window_keys = {QKeySequence(key).toString() for entry in WINDOW_SHORTCUTS for key in entry.keys
                   if not entry.action.startswith("review.")}
    seen: dict[str, set[str]] = {}
    for entry in RESEARCH_SHORTCUTS:
        for key in entry.keys:
            text = QKeySequence(key).toString()
            assert text not in viewer, f"{entry.action} reuses viewer key {text}"
            assert text not in window_keys, f"{entry.action} reuses window key {text}"
            assert text not in seen.setdefault(entry.group, set()), f"{entry.action} repeats {text}"
            seen[entry.group].add(text)


def test_doc_lists_research_keys():
    doc = DOC.read_text(encoding="utf-8")
    for entry in RESEARCH_SHORTCUTS:
        keys = " / ".join(f"`{key}`" for key in entry.keys)
        assert f"| {entry.group} | {keys} | {entry.description} |" in doc, entry.action


def test_attach_adds_menus_actions_and_docks(qtbot, research_window, demo_db):
    window = research_window(demo_db)
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus == ["File", "View", "Review", "Benchmark", "Pipeline", "Training", "Models", "Help"]
    for title in ("Comparison", "Silver labels", "Training"):
        assert window.docks[title].toggleViewAction() in window.menus["Panels"].actions()
        assert not window.docks[title].isVisible()
    action = window.research_actions["sessions"]
    assert [sequence.toString() for sequence in action.shortcuts()] == ["Ctrl+Shift+B"]

    qtbot.keyClick(window.browser.tree.view, Qt.Key.Key_C,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    settle_tasks(window.research.comparison)
    assert window.docks["Comparison"].isVisible()
    assert window.docks["Comparison"].isFloating()  # placed nowhere yet: it floats at a useful size
    _assert_on_screen(window.docks["Comparison"], window.screen().availableGeometry())

    window.show_shortcuts()
    [sheet] = [child for child in window.findChildren(ShortcutSheet) if child.isVisible()]
    for entry in RESEARCH_SHORTCUTS:
        assert entry.description in sheet.text.toPlainText()


def _assert_on_screen(widget, available: QRect) -> None:
    """Check that ``widget``'s frame lies on ``available``, or starts at its left edge when
    the widget's minimum width is larger (the offscreen test screen is 800 pixels wide)."""
    frame = widget.frameGeometry()
    assert frame.left() >= available.left()
    assert frame.top() >= available.top()
    assert frame.bottom() <= available.bottom()
    assert frame.right() <= available.right() or frame.left() == available.left()


@pytest.mark.parametrize("rect, expected", [
    (QRect(1100, 300, 1200, 760), QRect(400, 240, 1200, 760)),  # off the right and bottom edges
    (QRect(-50, -20, 2000, 1200), QRect(0, 0, 1600, 1000)),  # larger than the screen
    (QRect(100, 100, 640, 480), QRect(100, 100, 640, 480)),  # inside already
])
def test_fit_rect_on_1600_by_1000_screen(rect, expected):
    assert fit_rect(rect, QRect(0, 0, 1600, 1000)) == expected


def test_research_windows_fit_screen(qtbot, research_window, demo_db):
    window = research_window(demo_db)
    available = window.screen().availableGeometry()
    dialog = window.research.pipeline.open_dialog()
    registry = window.research.models.open_window()

    assert available.width() < 1180  # the pipeline dialog's default width
    _assert_on_screen(dialog, available)
    _assert_on_screen(registry, available)


def test_start_attaches_research(qtbot, tmp_path, monkeypatch, demo_template):  # noqa: F811
    from app import main as app_main
    from app_data import copy_database

    monkeypatch.setenv("NEUROONCO_SETTINGS", str(tmp_path / "settings.ini"))
    url = copy_database(demo_template, tmp_path)
    window, db = app_main.start(app_main.parse_args(["--db", url]))
    try:
        qtbot.addWidget(window)
        assert window.research.sessions.window is window
        assert "Benchmark" in window.menus
        window.close()
    finally:
        window.case.shutdown()
        db.dispose()
