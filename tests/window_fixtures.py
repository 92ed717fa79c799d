"""Fixtures for main-window tests: isolated settings, windows kept referenced, load waits.

Every window gets its own INI settings file under the test's temporary folder, so no test
reads or writes the user's settings. Windows start no worker process unless a test asks.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.settings import AppSettings

LOAD_TIMEOUT_MS = 30_000


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def app_settings(settings_path) -> AppSettings:
    return AppSettings.at(settings_path)


@pytest.fixture
def make_window(qtbot, show_widget, app_settings):
    """Return a function that shows a MainWindow over ``db`` and keeps it referenced."""
    windows = []

    def make(db, settings: AppSettings | None = None, start_workers: bool = False,
             width: int = 1500, height: int = 950) -> MainWindow:
        window = MainWindow(db, settings or app_settings, start_workers=start_workers)
        windows.append(window)
        show_widget(window, width, height)
        # Window shortcuts (the sheet, search) need the active window, as for a user.
        with qtbot.waitActive(window):
            window.activateWindow()
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.close()
        window.case.shutdown()
    windows.clear()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def wait_loaded(qtbot, window: MainWindow) -> None:
    """Wait until the case being loaded is on screen and the panels follow its slice."""
    qtbot.waitUntil(lambda: window.case.loading_case_id is None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.case.slice_id is not None or window.case.case_id is None,
                    timeout=LOAD_TIMEOUT_MS)
    settle(qtbot)


def settle(qtbot) -> None:
    """Let the slice settle timer fire and the panels follow."""
    from app.case_controller import SETTLE_MS

    qtbot.wait(SETTLE_MS + 60)


def open_demo(qtbot, window: MainWindow) -> None:
    from engine.demo import DEMO_DATASET

    assert window.open_dataset(DEMO_DATASET)
    wait_loaded(qtbot, window)
