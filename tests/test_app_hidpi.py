"""The main window at device pixel ratio 1 and 2, each in a fresh process.

Qt fixes the scale factor when the application starts, so each ratio needs its own
interpreter. At ratio 2 the window paints twice the device pixels in each direction while
its widgets keep their size in logical pixels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app_data import copy_database, demo_template  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.gui, pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import json, sys, time
    sys.path[:0] = [sys.argv[1]]
    from app.main import create_application
    app = create_application(["hidpi"])
    from PySide6.QtTest import QTest
    from app.main_window import MainWindow
    from app.settings import AppSettings
    from db.session import open_database
    from engine.demo import DEMO_DATASET

    db = open_database(sys.argv[2])
    window = MainWindow(db, AppSettings.at(sys.argv[3]), start_workers=False)
    window.resize(1400, 900)
    window.show()
    window.open_dataset(DEMO_DATASET)
    deadline = time.monotonic() + 60
    while window.case.case_id is None or window.case.loading_case_id is not None:
        QTest.qWait(20)
        if time.monotonic() > deadline:
            raise SystemExit("the demo did not load")
    QTest.qWait(300)
    grab = window.grab()
    view = window.panes.active_view
    print(json.dumps({
        "ratio": window.devicePixelRatioF(),
        "grab_pixels": [grab.width(), grab.height()],
        "window_size": [window.width(), window.height()],
        "view_grab_pixels": [view.grab().width(), view.grab().height()],
        "view_size": [view.width(), view.height()],
        "save_button_height": window.review_panel.save_button.height(),
        "legend_row_height": window.legend.table.rowHeight(0),
        "letters": view.letters,
    }))
    window.close()
    window.case.shutdown()
    db.dispose()
""")


def _run(ratio: int, url: str, settings: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=str(ratio),
               QT_ENABLE_HIGHDPI_SCALING="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO_ROOT), url, str(settings)],
                            capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_window_scales_with_device_pixel_ratio(demo_template, tmp_path):
    single_folder, double_folder = tmp_path / "one", tmp_path / "two"
    single_folder.mkdir()
    double_folder.mkdir()
    single = _run(1, copy_database(demo_template, single_folder), single_folder / "settings.ini")
    double = _run(2, copy_database(demo_template, double_folder), double_folder / "settings.ini")

    assert single["ratio"] == 1.0
    assert double["ratio"] == 2.0
    assert double["grab_pixels"] == [2 * size for size in double["window_size"]]
    assert double["view_grab_pixels"] == [2 * size for size in double["view_size"]]
    assert single["grab_pixels"] == single["window_size"]
    assert abs(double["save_button_height"] - single["save_button_height"]) <= 1
    assert abs(double["legend_row_height"] - single["legend_row_height"]) <= 1
    assert double["letters"] == single["letters"] == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
