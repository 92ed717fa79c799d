"""Linked panes offscreen: slice, zoom, pan, cursor and convention in step, and unlinking."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.display.sources import ImageSliceSource
from qt_events import delete_closed_widgets, mouse_drag, mouse_move, show_widget, viewport_point  # noqa: F401
from viewer_data import ANATOMICAL, flipped, load_volume, shared_aal, shared_volume
from widgets.label_legend import LabelLegend
from widgets.linked_views import LinkedSliceViews

pytestmark = pytest.mark.gui
CH2_STATS = {"min": 0.0, "max": 254.0, "p1": 0.0, "p99": 164.0}
MODALITIES = ("T1", "T1CE", "T2", "FLAIR")


@pytest.fixture
def ch2(mricron):
    return shared_volume(mricron / "ch2.nii.gz")


@pytest.fixture
def linked(show_widget, ch2, mricron):
    """Four panes of one case; the T2 pane stores its slices in reverse (inferior last), so
    the mask, on the grid of the others, is not drawn there."""
    panes = show_widget(LinkedSliceViews(), 1000, 900)
    volumes = [ch2, ch2, flipped(ch2, 2), ch2]
    sources = [ImageSliceSource(volume, title=name, stats=CH2_STATS) for volume, name in zip(volumes, MODALITIES)]
    messages = panes.set_case(sources, shared_aal(mricron))
    assert len(messages) == 1
    assert "'T2'" in messages[0]
    panes.views[0].setFocus()
    return panes


def hover(view, row=60, col=60):
    x, y = view.image_source.geometry.scene_of_position(row, col)
    mouse_move(view, viewport_point(view, x, y))


def ranges(view):
    return np.ravel(view.view_box.viewRange())


def test_four_panes_show_the_case(linked):
    assert linked.pane_count == 4
    assert [view.isVisible() for view in linked.views] == [True] * 4
    assert [view.image_source.title for view in linked.views] == list(MODALITIES)
    assert [view.label_source is not None for view in linked.views] == [True, True, False, True]


def test_slices_stay_in_step(qtbot, linked):
    t1, t2 = linked.views[0], linked.views[2]
    start = t1.slice_index
    assert [view.slice_index for view in linked.views] == [start, start, 180 - start, start]
    qtbot.keyClick(t1, Qt.Key.Key_Up)
    qtbot.keyClick(t1, Qt.Key.Key_PageUp)
    assert [view.slice_index for view in linked.views] == [start + 11, start + 11, 169 - start, start + 11]
    qtbot.keyClick(t2, Qt.Key.Key_Up)  # next slice is superior in every pane, whatever the voxel order
    assert [view.slice_index for view in linked.views] == [start + 12, start + 12, 168 - start, start + 12]
    assert np.array_equal(t2._image_item.image, t1._image_item.image)


def test_zoom_and_pan_stay_in_step(qtbot, linked):
    t1, flair = linked.views[0], linked.views[3]
    t1.zoom(2.0)
    qtbot.wait(10)
    for view in linked.views[1:]:
        assert ranges(view) == pytest.approx(ranges(t1), abs=0.5)
    mouse_drag(flair, QPointF(150, 150), QPointF(210, 190), Qt.MouseButton.LeftButton)
    qtbot.wait(10)
    assert ranges(t1) == pytest.approx(ranges(flair), abs=0.5)
    assert ranges(linked.views[1]) == pytest.approx(ranges(flair), abs=0.5)


def test_cursor_shown_in_other_panes(linked):
    t1, t1ce, t2 = linked.views[0], linked.views[1], linked.views[2]
    row, col = 90, 70
    x, y = t1.image_source.geometry.scene_of_position(row, col)
    mouse_move(t1, viewport_point(t1, x, y))
    expected_voxel = t1.readout_at(row, col).voxel
    for view in (t1ce, linked.views[3]):
        assert view.crosshair_visible
        assert view.crosshair_position == pytest.approx((x, y))
        assert f"(i, j, k) = ({expected_voxel[0]}, {expected_voxel[1]}, {expected_voxel[2]})" in view.readout_text
    i, j, k = expected_voxel
    assert f"(i, j, k) = ({i}, {j}, {180 - k})" in t2.readout_text
    assert not t1.crosshair_visible
    assert linked.active_view is t1


def test_unlink_and_relink(qtbot, linked):
    t1, t1ce = linked.views[0], linked.views[1]
    start = t1.slice_index
    linked_ranges = ranges(t1ce)
    qtbot.keyClick(t1, Qt.Key.Key_L)
    assert not linked.linked
    assert not linked.link_box.isChecked()
    for _ in range(3):
        qtbot.keyClick(t1, Qt.Key.Key_Up)
    assert t1.slice_index == start + 3
    assert t1ce.slice_index == start
    t1.zoom(2.0)
    assert ranges(t1ce) == pytest.approx(linked_ranges)
    x, y = t1.image_source.geometry.scene_of_position(50, 50)
    mouse_move(t1, viewport_point(t1, x, y))
    assert not t1ce.crosshair_visible
    linked.link_box.setChecked(True)
    assert linked.linked
    assert t1ce.slice_index == start + 3


def test_pane_count_keys_and_box(qtbot, linked):
    t1 = linked.views[0]
    qtbot.keyClick(t1, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert linked.pane_count == 2
    assert [view.isVisible() for view in linked.views] == [True, True, False, False]
    assert linked.pane_box.currentData() == 2
    qtbot.keyClick(t1, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert [view.isVisible() for view in linked.views] == [True, False, False, False]
    linked.pane_box.setCurrentIndex(linked.pane_box.findData(4))
    assert linked.pane_count == 4
    assert all(view.isVisible() for view in linked.views)


def test_convention_switch_applies_to_all(qtbot, linked):
    qtbot.keyClick(linked.views[1], Qt.Key.Key_N)
    assert [view.convention for view in linked.views] == ["neurological"] * 4
    assert all(view.letters["left"] == "L" for view in linked.views)


def test_mask_on_other_grid_reported(show_widget, ch2, mricron):
    panes = show_widget(LinkedSliceViews(), 900, 500)
    sources = [ImageSliceSource(ch2, title="T1", stats=CH2_STATS), ImageSliceSource(load_volume(ANATOMICAL), title="T2")]
    messages = panes.set_case(sources, shared_aal(mricron))
    assert len(messages) == 1
    assert "never resampled" in messages[0]
    assert panes.views[0].label_source is not None
    assert panes.views[1].label_source is None
    assert panes.pane_count == 2


def test_legend_follows_active_pane(qtbot, show_widget, linked):
    legend = show_widget(LabelLegend(linked.settings), 400, 500)
    legend.attach(linked)
    t1, t1ce = linked.views[0], linked.views[1]
    qtbot.keyClick(linked, Qt.Key.Key_L)  # unlinked panes show different slices
    qtbot.keyClick(t1ce, Qt.Key.Key_PageUp)
    hover(t1ce)
    assert linked.active_view is t1ce
    counts = t1ce.label_source.counts(t1ce.slice_index)
    label_map = t1ce.label_source.label_map
    assert legend.model.pixels(37) == counts[label_map.index_of(37)]
    hover(t1)
    assert legend.model.pixels(37) == t1.label_source.counts(t1.slice_index)[label_map.index_of(37)]
