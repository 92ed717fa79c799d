"""High-DPI rendering: the slice view at device pixel ratio 1 and 2, each in a fresh process.

Qt fixes the scale factor when the application starts, so each ratio needs its own
interpreter. At ratio 2 the view must paint twice the device pixels while letters, legend
rows and the image rectangle keep their size in logical pixels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.gui

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    sys.path[:0] = [sys.argv[1] + "/tests", sys.argv[1]]
    from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget
    app = QApplication([])
    from engine.display.sources import ImageSliceSource, LabelSliceSource
    from viewer_data import load_aal, load_volume
    from widgets.label_legend import LabelLegend
    from widgets.slice_view import SliceView

    templates = Path(sys.argv[2])
    window = QWidget()
    layout = QHBoxLayout(window)
    view = SliceView()
    legend = LabelLegend(view.overlay_settings)
    layout.addWidget(view, 2)
    layout.addWidget(legend, 1)
    image = ImageSliceSource(load_volume(templates / "ch2.nii.gz"), stats={"min": 0, "max": 254, "p1": 0, "p99": 164})
    view.set_image(image, index=72)
    legend.attach(view)
    view.set_labels(LabelSliceSource.for_image(load_aal(templates), image))
    window.resize(900, 600)
    window.show()
    for _ in range(20):
        app.processEvents()
    grab = view.grab()
    letter = view._annotations.rect_of("left")
    top_left = view._graphics.mapFromScene(view.view_box.mapViewToScene(view._image_item.mapRectToView(
        view._image_item.boundingRect()).topLeft()))
    print(json.dumps({
        "ratio": view.devicePixelRatioF(),
        "grab_ratio": grab.devicePixelRatio(),
        "grab_pixels": [grab.width(), grab.height()],
        "view_size": [view.width(), view.height()],
        "letter_geometry": [letter.x(), letter.y(), letter.width(), letter.height()],
        "legend_row_height": legend.table.rowHeight(0),
        "image_top_left": [top_left.x(), top_left.y()],
    }))
""")


def render_at(scale: str, templates) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=scale)
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO_ROOT), str(templates)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_view_keeps_logical_sizes_at_double_ratio(mricron):
    single = render_at("1", mricron)
    double = render_at("2", mricron)
    assert single["ratio"] == 1.0
    assert double["ratio"] == 2.0
    assert double["grab_ratio"] == 2.0
    assert double["view_size"] == single["view_size"]
    assert double["grab_pixels"] == [2 * n for n in single["grab_pixels"]]
    assert double["letter_geometry"] == single["letter_geometry"]
    assert double["legend_row_height"] == single["legend_row_height"]
    assert double["image_top_left"] == pytest.approx(single["image_top_left"], abs=1)
