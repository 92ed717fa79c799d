"""The slice view offscreen: navigation, window/level, zoom, letters, aspect and readout."""

from __future__ import annotations

import copy

import nibabel as nib
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.display.labels import DisplayLabelMap
from engine.display.levels import WindowLevel
from engine.display.slice_cache import PrefetchQueue, SliceCache
from engine.display.sources import ImageSliceSource, LabelSliceSource
from engine.errors import InvalidInputError
from engine.io.volume import Volume
from qt_events import delete_closed_widgets, leave, mouse_drag, mouse_move, show_widget, viewport_point, wheel  # noqa: F401
from viewer_data import ANATOMICAL, aal_names, flipped, load_volume, reordered, shared_aal, shared_volume
from widgets.shortcuts import SHORTCUTS, action_for_event, key_sequences
from widgets.slice_view import SliceView

pytestmark = pytest.mark.gui
CH2_STATS = {"min": 0.0, "max": 254.0, "p1": 0.0, "p99": 164.0}


@pytest.fixture(autouse=True)
def no_mouse_rate_limit():
    """pyqtgraph drops mouse moves closer than 10 ms apart; synthetic events come faster."""
    previous = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    yield
    pg.setConfigOption("mouseRateLimit", previous)


@pytest.fixture
def ch2(mricron):
    return shared_volume(mricron / "ch2.nii.gz")


@pytest.fixture
def aal(mricron):
    return shared_aal(mricron)


@pytest.fixture
def make_view(show_widget):
    def make(volume, stats=None, index=None, **source_options):
        view = show_widget(SliceView())
        source = ImageSliceSource(volume, stats=stats, **source_options)
        view.set_image(source, index=index)
        return view
    return make


def shown_grey(view):
    """Return the grey levels the image item was given (the red channel of its RGBA)."""
    return view._image_item.image[..., 0]


def expected_grey(pixels, levels):
    low, high = levels
    return np.clip((pixels - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def press(qtbot, view, key, modifier=Qt.KeyboardModifier.NoModifier, times=1):
    for _ in range(times):
        qtbot.keyClick(view, key, modifier)


def test_keys_move_through_slices(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    changes = []
    view.sliceChanged.connect(changes.append)
    press(qtbot, view, Qt.Key.Key_Up)
    assert view.slice_index == 91
    press(qtbot, view, Qt.Key.Key_Right)
    assert view.slice_index == 92
    press(qtbot, view, Qt.Key.Key_Down, times=3)
    assert view.slice_index == 89
    press(qtbot, view, Qt.Key.Key_Left)
    assert view.slice_index == 88
    press(qtbot, view, Qt.Key.Key_PageUp)
    assert view.slice_index == 98
    press(qtbot, view, Qt.Key.Key_PageDown, times=2)
    assert view.slice_index == 78
    press(qtbot, view, Qt.Key.Key_Home)
    assert view.slice_index == 0
    press(qtbot, view, Qt.Key.Key_Down)
    assert view.slice_index == 0
    press(qtbot, view, Qt.Key.Key_End)
    assert view.slice_index == 180
    assert changes == [91, 92, 91, 90, 89, 88, 98, 88, 78, 0, 180]


def test_next_slice_goes_superior_in_flipped_volume(qtbot, make_view, ch2):
    view = make_view(flipped(ch2, 2), CH2_STATS, index=90)
    press(qtbot, view, Qt.Key.Key_Up)
    assert view.slice_index == 89
    press(qtbot, view, Qt.Key.Key_Home)
    assert view.slice_index == 180  # the most inferior slice has the highest index here


def test_shown_image_is_the_slice(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=60)
    press(qtbot, view, Qt.Key.Key_Up)
    expected = ch2.data[:, :, 61].T[::-1, ::-1]
    shown = view._image_layer.pixels
    assert np.array_equal(shown, expected)
    assert shown.flags["C_CONTIGUOUS"]
    assert shown.dtype == np.float32
    assert np.array_equal(shown_grey(view), expected_grey(expected, view.window.levels))


def test_wheel_moves_through_slices(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    centre = QPointF(view._graphics.viewport().width() / 2, view._graphics.viewport().height() / 2)
    wheel(view, centre, 120)
    assert view.slice_index == 91
    wheel(view, centre, 240)
    assert view.slice_index == 93
    wheel(view, centre, -120)
    assert view.slice_index == 92
    wheel(view, centre, 60)
    assert view.slice_index == 92  # half a notch waits for the other half
    wheel(view, centre, 60)
    assert view.slice_index == 93


def test_ctrl_wheel_zooms_without_scrolling(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    before = view.view_box.viewRange()
    centre = QPointF(view._graphics.viewport().width() / 2, view._graphics.viewport().height() / 2)
    wheel(view, centre, 240, Qt.KeyboardModifier.ControlModifier)
    after = view.view_box.viewRange()
    assert view.slice_index == 90
    assert (after[0][1] - after[0][0]) < (before[0][1] - before[0][0])


def test_right_drag_sets_window_not_zoom(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    start_window = view.window
    start_range = view.view_box.viewRange()
    windows = []
    view.windowChanged.connect(lambda center, width: windows.append((center, width)))
    start = QPointF(200, 200)
    mouse_drag(view, start, QPointF(250, 225), Qt.MouseButton.RightButton)
    per_pixel = 254.0 / 500
    assert view.window.width == pytest.approx(start_window.width + 50 * per_pixel, rel=0.05)
    assert view.window.center == pytest.approx(start_window.center + 25 * per_pixel, rel=0.05)
    assert windows
    assert np.array_equal(shown_grey(view), expected_grey(view._image_layer.pixels, view.window.levels))
    assert np.ravel(view.view_box.viewRange()) == pytest.approx(np.ravel(start_range))


def test_left_drag_pans_and_keeps_window(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    window = view.window
    before = view.view_box.viewRange()
    mouse_drag(view, QPointF(200, 200), QPointF(260, 200), Qt.MouseButton.LeftButton)
    after = view.view_box.viewRange()
    assert view.window == window
    assert after[0][0] < before[0][0]
    assert after[1] == pytest.approx(before[1])


def test_window_presets_by_key(qtbot, make_view, ch2):
    volume = copy.copy(ch2)
    volume.header_windows = [{"center": 40, "width": 80}, {"center": 100, "width": 50}]
    view = make_view(volume, CH2_STATS, index=90)
    assert view.window.levels == (0.0, 164.0)
    press(qtbot, view, Qt.Key.Key_2)
    assert view.window.levels == (0.0, 254.0)
    press(qtbot, view, Qt.Key.Key_3)
    assert view.window == WindowLevel(40.0, 80.0)
    press(qtbot, view, Qt.Key.Key_3)
    assert view.window == WindowLevel(100.0, 50.0)
    press(qtbot, view, Qt.Key.Key_3)
    assert view.window == WindowLevel(40.0, 80.0)
    press(qtbot, view, Qt.Key.Key_1)
    assert view.window.levels == (0.0, 164.0)
    assert np.array_equal(shown_grey(view), expected_grey(view._image_layer.pixels, (0.0, 164.0)))


def test_header_preset_absent_keeps_window(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    window = view.window
    assert view.apply_preset("header") is False
    press(qtbot, view, Qt.Key.Key_3)
    assert view.window == window


def test_levels_stay_while_scrolling(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    view.set_window(WindowLevel(50.0, 30.0))
    for _ in range(5):
        press(qtbot, view, Qt.Key.Key_Up)
        assert view.window.levels == (35.0, 65.0)
        assert np.array_equal(shown_grey(view), expected_grey(view._image_layer.pixels, (35.0, 65.0)))


def test_levels_computed_from_series(qtbot, make_view, ch2):
    view = make_view(ch2, None, index=90)  # statistics computed by the source, once
    stats = ch2.intensity_stats()
    assert view.window.levels == (stats["p1"], stats["p99"])
    press(qtbot, view, Qt.Key.Key_Home)
    assert view.window.levels == (stats["p1"], stats["p99"])


def test_constant_image_gets_nonzero_window(qtbot, make_view):
    data = np.full((8, 9, 4), 7.0, dtype=np.float32)
    volume = Volume(data=data, affine=np.eye(4), source_path=ANATOMICAL, content_sha256="0" * 64, file_format="nifti")
    view = make_view(volume)
    low, high = view.window.levels
    assert low < 7.0 < high
    view.set_window(WindowLevel(7.0, 0.0))
    assert view.window.width > 0
    view._image_item.render()
    assert view._image_item.qimage is not None


def test_zoom_keys_and_reset(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    fitted = view.view_box.viewRange()
    press(qtbot, view, Qt.Key.Key_Plus)
    zoomed = view.view_box.viewRange()
    assert (zoomed[0][1] - zoomed[0][0]) == pytest.approx((fitted[0][1] - fitted[0][0]) / 1.25)
    press(qtbot, view, Qt.Key.Key_Minus, times=2)
    assert (view.view_box.viewRange()[0][1] - view.view_box.viewRange()[0][0]) > (fitted[0][1] - fitted[0][0])
    press(qtbot, view, Qt.Key.Key_0)
    assert np.ravel(view.view_box.viewRange()) == pytest.approx(np.ravel(fitted))


def test_letters_for_ras_and_las(qtbot, make_view, ch2):
    expected = {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert make_view(ch2, CH2_STATS).letters == expected
    assert make_view(load_volume(ANATOMICAL)).letters == expected


def test_convention_switch_flips_letters_and_image(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    radiological = view._image_item.image.copy()
    conventions = []
    view.conventionChanged.connect(conventions.append)
    press(qtbot, view, Qt.Key.Key_N)
    assert view.letters == {"top": "A", "bottom": "P", "left": "L", "right": "R"}
    assert np.array_equal(view._image_item.image, radiological[:, ::-1])
    assert conventions == ["neurological"]
    press(qtbot, view, Qt.Key.Key_N)
    assert view.letters["left"] == "R"


def test_letters_for_coronal_and_sagittal_acquisitions(qtbot, make_view, ch2):
    coronal = make_view(reordered(ch2, (0, 2, 1)), CH2_STATS, slice_axis=2)
    assert coronal.letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    sagittal = make_view(reordered(ch2, (1, 2, 0)), CH2_STATS, slice_axis=2)
    assert sagittal.letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}


def test_2d_image_has_no_letters(qtbot, make_view):
    data = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    image = Volume(data=data, affine=np.eye(4), source_path=ANATOMICAL, content_sha256="0" * 64,
                   file_format="png", has_geometry=False)
    view = make_view(image)
    assert view.letters == {"top": "", "bottom": "", "left": "", "right": ""}
    press(qtbot, view, Qt.Key.Key_Up)
    assert view.slice_index == 0
    assert np.array_equal(view._image_layer.pixels, data)
    point = viewport_point(view, 12.5, 3.5)
    mouse_move(view, point)
    assert view.readout_text.startswith("(row, col) = (3, 12)")
    assert "value 102" in view.readout_text


def test_image_rect_keeps_voxel_aspect(qtbot, make_view):
    volume = load_volume(ANATOMICAL)
    volume.affine = np.diag([-2.0, 3.0, 1.5, 1.0])
    view = make_view(volume)
    rect = view._image_item.mapRectToView(view._image_item.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((33 * 2.0, 41 * 3.0))
    assert view._image_layer.pixels.shape == (41, 33)  # the array is not resampled
    pixel_width, pixel_height = view.view_box.viewPixelSize()
    assert pixel_width == pytest.approx(pixel_height)


def test_readout_under_cursor(qtbot, make_view, ch2, aal, mricron):
    raw = np.asarray(nib.load(str(mricron / "ch2.nii.gz")).dataobj)
    atlas = np.asarray(nib.load(str(mricron / "aal.nii.gz")).dataobj)
    view = make_view(ch2, CH2_STATS, index=72)
    view.set_labels(LabelSliceSource.for_image(aal, view.image_source))
    readouts = []
    view.cursorMoved.connect(readouts.append)
    row, col = 100, 60
    x, y = view.image_source.geometry.scene_of_position(row, col)
    mouse_move(view, viewport_point(view, x, y))
    i, j, k = 180 - col, 216 - row, 72
    readout = readouts[-1]
    assert readout.voxel == (i, j, k)
    assert readout.world_mm == (i - 90.0, j - 125.0, k - 71.0)
    assert readout.value == float(raw[i, j, k])
    assert readout.label_value == int(atlas[i, j, k])
    assert readout.label_name == aal_names(mricron)[int(atlas[i, j, k])]
    assert f"(i, j, k) = ({i}, {j}, {k})" in view.readout_text
    assert f"({i - 90.0:.1f}, {j - 125.0:.1f}, {k - 71.0:.1f}) mm" in view.readout_text
    assert readout.label_name in view.readout_text
    press(qtbot, view, Qt.Key.Key_Up)
    assert f"({i}, {j}, 73)" in view.readout_text  # the readout follows the slice under a still cursor
    leave(view)
    assert readouts[-1] is None
    assert view.readout_text == ""


def test_nan_pixels_transparent_and_flagged(qtbot, make_view):
    volume = load_volume(ANATOMICAL)
    volume.data[10:14, 20:22, 5] = np.nan
    view = make_view(volume, index=5)
    assert view._nan_item.isVisible()
    row, col, _ = view.image_source.geometry.position_of_world(view.image_source.geometry.world_of_voxel((11, 21, 5)))
    view._image_item.render()
    assert view._image_item.qimage.pixelColor(round(col), round(row)).alpha() == 0
    assert view._nan_item.image[round(row), round(col)] == 1
    press(qtbot, view, Qt.Key.Key_Up)
    assert not view._nan_item.isVisible()


def test_mask_on_other_grid_rejected(qtbot, make_view, aal):
    view = make_view(load_volume(ANATOMICAL))
    wrong = LabelSliceSource(aal)
    with pytest.raises(InvalidInputError, match="never resampled"):
        view.set_labels(wrong)
    assert view.label_source is None


def test_synthetic_mask_banner(qtbot, make_view, ch2, aal):
    view = make_view(ch2, CH2_STATS, index=72)
    view.set_labels(LabelSliceSource.for_image(aal, view.image_source))
    assert view.banner_text == ""
    synthetic = DisplayLabelMap.from_array(aal.indices, aal.affine, is_synthetic=True, name="synthetic lesion")
    view.set_labels(LabelSliceSource.for_image(synthetic, view.image_source))
    assert view.banner_text == "SYNTHETIC MASK"


def test_idle_prefetch_fills_neighbours(qtbot, make_view, ch2):
    cache = SliceCache(budget_bytes=32 * 1024 * 1024)
    queue = PrefetchQueue()
    view = make_view(ch2, CH2_STATS, index=90, cache=cache, prefetch_queue=queue)
    press(qtbot, view, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: not queue.has_pending, timeout=5000)
    misses = cache.misses
    for index in range(87, 96):
        view.image_source.slice(index)
    assert cache.misses == misses
    assert cache.nbytes <= cache.budget_bytes


def test_shortcut_table_is_consistent(qtbot, make_view, ch2):
    view = make_view(ch2, CH2_STATS, index=90)
    seen = {}
    for entry in SHORTCUTS:
        if entry.kind != "key":
            continue
        for sequence in key_sequences(entry.action):
            text = sequence.toString()
            assert text not in seen, f"{text} bound to {seen.get(text)} and {entry.action}"
            seen[text] = entry.action
        if not entry.action.startswith("linked."):
            assert view.trigger(entry.action), entry.action
    assert not view.trigger("linked.toggle")  # left to the linked views
    assert len(seen) >= 20


def test_unhandled_key_reaches_parent(qtbot, show_widget, ch2):
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    class Parent(QWidget):
        def __init__(self):
            super().__init__()
            self.actions = []
            self.view = SliceView(parent=self)
            QVBoxLayout(self).addWidget(self.view)

        def keyPressEvent(self, event):
            self.actions.append(action_for_event(event))

    parent = show_widget(Parent())
    parent.view.set_image(ImageSliceSource(ch2, stats=CH2_STATS))
    qtbot.keyClick(parent.view, Qt.Key.Key_L)
    qtbot.keyClick(parent.view, Qt.Key.Key_Up)
    assert parent.actions == ["linked.toggle"]


def test_viewer_doc_lists_every_shortcut():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "viewer.md").read_text()
    for entry in SHORTCUTS:
        keys = " / ".join(f"`{key}`" for key in entry.keys)
        assert f"| {entry.group} | {keys} | {entry.description} |" in doc, entry.action
