"""The mask overlay offscreen: toggle, opacity, outline, per-label visibility and the legend."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.display.labels import DisplayLabelMap
from engine.display.sources import ImageSliceSource, LabelSliceSource, label_boundaries
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from viewer_data import ANATOMICAL, aal_names, load_volume, shared_aal, shared_volume
from widgets.label_legend import AREA, NAME, PIXELS, REFRESH_MS, LabelLegend
from widgets.overlay_controls import OverlayControls
from widgets.overlay_settings import FILL, OUTLINE, OverlaySettings
from widgets.slice_view import SliceView

pytestmark = pytest.mark.gui
CH2_STATS = {"min": 0.0, "max": 254.0, "p1": 0.0, "p99": 164.0}
SLICE = 72


class Viewer(QWidget):
    """A slice view with its overlay controls and legend, as the main window arranges them."""

    def __init__(self) -> None:
        super().__init__()
        self.settings = OverlaySettings(self)
        self.view = SliceView(self.settings, self)
        self.controls = OverlayControls(self.settings, self)
        self.legend = LabelLegend(self.settings, self)
        layout = QHBoxLayout(self)
        layout.addWidget(self.view, 3)
        layout.addWidget(self.controls, 1)
        layout.addWidget(self.legend, 2)


@pytest.fixture
def viewer(show_widget, mricron):
    viewer = show_widget(Viewer(), 1000, 560)
    image = ImageSliceSource(shared_volume(mricron / "ch2.nii.gz"), stats=CH2_STATS)
    viewer.view.set_image(image, index=SLICE)
    viewer.legend.attach(viewer.view)
    viewer.view.set_labels(LabelSliceSource.for_image(shared_aal(mricron), image))
    viewer.view.setFocus()
    return viewer


@pytest.fixture
def atlas_slice(mricron):
    """The AAL slice as displayed: rows anterior to posterior, columns patient right to left."""
    atlas = np.asarray(nib.load(str(mricron / "aal.nii.gz")).dataobj)
    return lambda k: atlas[:, :, k].T[::-1, ::-1]


def press(qtbot, widget, key, times=1):
    for _ in range(times):
        qtbot.keyClick(widget, key)


def overlay_item(viewer):
    return viewer.view._overlay.item


def test_s_key_toggles_overlay(qtbot, viewer):
    assert overlay_item(viewer).isVisible()
    press(qtbot, viewer.view, Qt.Key.Key_S)
    assert not overlay_item(viewer).isVisible()
    assert not viewer.controls.visible_box.isChecked()
    press(qtbot, viewer.view, Qt.Key.Key_S)
    assert overlay_item(viewer).isVisible()
    viewer.controls.visible_box.setChecked(False)
    assert not viewer.settings.visible
    assert not overlay_item(viewer).isVisible()


def label_alpha(viewer, atlas_slice, value=37):
    """Return the alpha values the overlay paints on the pixels of label ``value``."""
    return set(viewer.view._overlay.rendered_rgba()[atlas_slice(viewer.view.slice_index) == value, 3].tolist())


def test_opacity_keys_and_slider(qtbot, viewer, atlas_slice):
    assert label_alpha(viewer, atlas_slice) == {round(0.5 * 255)}
    press(qtbot, viewer.view, Qt.Key.Key_A)
    assert viewer.settings.opacity == pytest.approx(0.45)
    assert label_alpha(viewer, atlas_slice) == {round(0.45 * 255)}
    assert viewer.controls.opacity_slider.value() == 45
    press(qtbot, viewer.view, Qt.Key.Key_D, times=3)
    assert viewer.settings.opacity == pytest.approx(0.6)
    assert viewer.controls.opacity_label.text() == "60 %"
    viewer.controls.opacity_slider.setValue(20)
    assert viewer.settings.opacity == pytest.approx(0.2)
    assert label_alpha(viewer, atlas_slice) == {round(0.2 * 255)}


def test_opacity_clamped_to_range(qtbot, viewer):
    press(qtbot, viewer.view, Qt.Key.Key_D, times=15)
    assert viewer.settings.opacity == 1.0
    press(qtbot, viewer.view, Qt.Key.Key_A, times=25)
    assert viewer.settings.opacity == 0.0
    assert viewer.controls.opacity_slider.value() == 0


def test_overlay_colours_follow_lookup_table(viewer, atlas_slice):
    labels = atlas_slice(SLICE)
    label_map = viewer.view.label_source.label_map
    rgba = viewer.view._overlay.rendered_rgba()
    assert rgba.shape == labels.shape + (4,)
    assert (rgba[labels == 0, 3] == 0).all()
    for value in (37, 38, 71, 72):
        pixels = rgba[labels == value]
        assert len(pixels) > 0
        expected = tuple(label_map.colors[label_map.index_of(value)]) + (round(0.5 * 255),)
        assert (pixels == expected).all(), value


def test_outline_key_draws_boundaries(qtbot, viewer, atlas_slice):
    filled = viewer.view._overlay.indices.copy()
    press(qtbot, viewer.view, Qt.Key.Key_O)
    assert viewer.settings.mode == OUTLINE
    assert viewer.controls.mode_box.currentData() == OUTLINE
    outline = viewer.view._overlay.indices
    assert np.array_equal(outline, label_boundaries(filled))
    assert 0 < np.count_nonzero(outline) < np.count_nonzero(filled)
    hippocampus = atlas_slice(SLICE) == 37
    interior = hippocampus[1:-1, 1:-1] & hippocampus[:-2, 1:-1] & hippocampus[2:, 1:-1] \
        & hippocampus[1:-1, :-2] & hippocampus[1:-1, 2:]
    rows, cols = np.nonzero(interior)
    assert len(rows) > 0
    assert (outline[rows + 1, cols + 1] == 0).all()
    press(qtbot, viewer.view, Qt.Key.Key_Up)
    assert np.array_equal(viewer.view._overlay.indices, label_boundaries(atlas_slice(SLICE + 1)))
    viewer.controls.mode_box.setCurrentIndex(viewer.controls.mode_box.findData(FILL))
    assert viewer.settings.mode == FILL
    assert np.array_equal(viewer.view._overlay.indices, atlas_slice(SLICE + 1))


def test_hidden_label_is_transparent(viewer, atlas_slice):
    labels = atlas_slice(SLICE)
    model = viewer.legend.model
    row = [model.value_at(r) for r in range(model.rowCount())].index(37)
    index = model.index(row, NAME)
    assert Qt.CheckState(model.data(index, Qt.ItemDataRole.CheckStateRole)) == Qt.CheckState.Checked
    assert model.setData(index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert not viewer.settings.is_label_visible(37)
    assert Qt.CheckState(model.data(index, Qt.ItemDataRole.CheckStateRole)) == Qt.CheckState.Unchecked
    rgba = viewer.view._overlay.rendered_rgba()
    assert (rgba[labels == 37, 3] == 0).all()
    assert (rgba[labels == 38, 3] == round(0.5 * 255)).all()
    viewer.settings.set_label_visible(37, True)
    assert (viewer.view._overlay.rendered_rgba()[labels == 37, 3] == round(0.5 * 255)).all()


def test_legend_table_repaints_after_scroll(qtbot, viewer, atlas_slice):
    model = viewer.legend.model
    qtbot.wait(3 * REFRESH_MS)  # let the refresh of the first slice pass
    changes = []
    model.dataChanged.connect(lambda first, last: changes.append((first.row(), last.row())))
    for _ in range(5):
        press(qtbot, viewer.view, Qt.Key.Key_Up)
    assert changes == []  # five slices in quick succession: one refresh, later
    qtbot.waitUntil(lambda: len(changes) == 1, timeout=2000)
    row = [model.value_at(r) for r in range(model.rowCount())].index(37)
    assert model.index(row, PIXELS).data() == str(int(np.count_nonzero(atlas_slice(SLICE + 5) == 37)))


def test_legend_areas_equal_counted_pixels(qtbot, viewer, atlas_slice, mricron):
    model = viewer.legend.model
    names = aal_names(mricron)
    assert model.rowCount() == len(viewer.view.label_source.label_map.present_values())
    for k in (SLICE, SLICE + 1):
        labels = atlas_slice(k)
        for row in range(model.rowCount()):
            value = model.value_at(row)
            count = int(np.count_nonzero(labels == value))
            assert model.pixels(value) == count, value
            assert model.index(row, PIXELS).data() == str(count)
            assert model.index(row, AREA).data(Qt.ItemDataRole.UserRole) == pytest.approx(count * 1.0)
            assert model.index(row, NAME).data() == names[value]
        press(qtbot, viewer.view, Qt.Key.Key_Up)


def test_legend_area_in_square_millimetres(show_widget):
    volume = load_volume(ANATOMICAL)  # 2 mm voxels: 4 mm² per pixel
    mask = DisplayLabelMap.from_array((volume.data > 2000).astype(np.uint8) + (volume.data > 6000), volume.affine,
                               names={1: "bright", 2: "brighter"}, name="threshold mask")
    viewer = show_widget(Viewer(), 900, 500)
    image = ImageSliceSource(volume)
    viewer.view.set_image(image, index=12)
    viewer.legend.attach(viewer.view)
    viewer.view.set_labels(LabelSliceSource.for_image(mask, image))
    shown = viewer.view.label_source.slice(12)
    for value in (1, 2):
        count = int(np.count_nonzero(shown == value))
        assert count > 0
        assert viewer.legend.model.pixels(value) == count
        assert viewer.legend.model.area_mm2(value) == pytest.approx(4.0 * count)


def test_legend_swatches_match_overlay(viewer):
    model = viewer.legend.model
    label_map = viewer.view.label_source.label_map
    for row in range(model.rowCount()):
        colour = model.index(row, NAME).data(Qt.ItemDataRole.DecorationRole)
        expected = label_map.colors[label_map.index_of(model.value_at(row))]
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(c) for c in expected)


def test_legend_filter_shows_slice_labels(qtbot, viewer, atlas_slice):
    viewer.legend.only_on_slice.setChecked(True)
    table_model = viewer.legend.table.model()
    qtbot.waitUntil(lambda: table_model.rowCount() < viewer.legend.model.rowCount(), timeout=2000)
    on_slice = {int(v) for v in np.unique(atlas_slice(SLICE)) if v}
    shown = {int(table_model.index(row, 1).data()) for row in range(table_model.rowCount())}
    assert shown == on_slice
    press(qtbot, viewer.view, Qt.Key.Key_Home)
    expected = len({int(v) for v in np.unique(atlas_slice(0)) if v})
    qtbot.waitUntil(lambda: table_model.rowCount() == expected, timeout=2000)  # the table follows within REFRESH_MS
    viewer.legend.only_on_slice.setChecked(False)
    assert table_model.rowCount() == viewer.legend.model.rowCount()


def test_synthetic_tag_in_legend(viewer, mricron):
    assert not viewer.legend.synthetic_tag_visible
    aal = shared_aal(mricron)
    synthetic = DisplayLabelMap.from_array(aal.indices, aal.affine, names=aal.names, is_synthetic=True, name="synthetic lesion")
    viewer.view.set_labels(LabelSliceSource.for_image(synthetic, viewer.view.image_source))
    assert viewer.legend.synthetic_tag_visible
    assert viewer.view.banner_text == "SYNTHETIC MASK"
    viewer.view.set_labels(None)
    assert not viewer.legend.synthetic_tag_visible
    assert viewer.legend.model.rowCount() == 0
    assert viewer.view.banner_text == ""
