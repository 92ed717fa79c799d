"""The main window's viewer on the demo study and an imported four-modality case."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog
from sqlalchemy import select

from app.main import ensure_demo
from app.settings import AppSettings
from app_data import BENCHMARK, bench_db, bench_template, demo_db, demo_template  # noqa: F401
from db.models import Case, Dataset, Series, Slice
from engine.demo import DEMO_DATASET
from engine.io.importer import import_paths
from import_trees import build_brats_case
from qt_events import (delete_closed_widgets, leave, mouse_drag, mouse_move, show_widget,  # noqa: F401
                       viewport_point, wheel)
from window_fixtures import app_settings, make_window, open_demo, settings_path, settle, wait_loaded  # noqa: F401

pytestmark = pytest.mark.gui


def _slice_index(db, slice_id):
    with db.session() as session:
        return session.get(Slice, slice_id).index


def test_first_launch_creates_demo(db, qapp):
    assert ensure_demo(db, force=False) == DEMO_DATASET
    assert ensure_demo(db, force=False) is None  # not empty any more
    with db.session() as session:
        assert session.scalars(select(Dataset.name)).all() == [DEMO_DATASET]


def test_demo_opens_with_overlay_and_semantics(qtbot, make_window, demo_db):
    window = make_window(demo_db)
    open_demo(qtbot, window)

    view = window.panes.active_view
    assert window.case.stack.currentWidget() is window.panes
    assert view.image_source.title == "T1"
    assert view.label_source is not None
    assert view.banner_text == "SYNTHETIC MASK"
    assert window.legend.synthetic_tag_visible
    assert _slice_index(demo_db, window.case.slice_id) == view.slice_index
    assert window.semantics_panel.description.text().startswith("A T1 brain MRI scan")
    assert window.review_panel.item_label.text() == "this slice (mask and semantics)"


def test_demo_opens_at_largest_lesion(qtbot, make_window, demo_db):
    from engine.viewer.semantics_view import slice_semantics

    window = make_window(demo_db)
    open_demo(qtbot, window)
    view = window.panes.active_view
    with demo_db.session() as session:
        summary = slice_semantics(session, window.case.slice_id).volume
    largest = next(entry.largest_slice_index for entry in summary if entry.region == "WT")

    assert largest != view.image_source.slice_count // 2
    assert view.slice_index == largest
    assert _slice_index(demo_db, window.case.slice_id) == largest
    assert window.questions_panel.questions
    assert window.questions_panel.title.text() != "No benchmark question refers to this slice."


def test_semantics_panel_tables_match_mask(qtbot, make_window, demo_db):
    from engine.viewer.semantics_view import slice_semantics

    window = make_window(demo_db)
    open_demo(qtbot, window)
    with demo_db.session() as session:
        summary = slice_semantics(session, window.case.slice_id).volume
    largest = next(entry.largest_slice_index for entry in summary if entry.region == "WT")
    window.panes.active_view.set_slice(largest)
    settle(qtbot)
    qtbot.wait(300)  # the legend's pixel counts refresh on a timer
    panel = window.semantics_panel
    with demo_db.session() as session:
        stored = slice_semantics(session, window.case.slice_id)
    regions = {region.region: region for region in stored.regions}

    assert _slice_index(demo_db, window.case.slice_id) == largest
    assert sorted(regions) == ["ET", "TC", "WT"]
    for name, region in regions.items():
        assert panel.cell(panel.labels, "Size", name) == region.size
        assert panel.cell(panel.labels, "Location", name) == region.location
        assert panel.cell(panel.measures, "Area (px)", name) == str(region.area_px)
        assert panel.cell(panel.measures, "Circularity", name) == f"{region.circularity:.2f}"
    # The legend counts the label map's pixels on screen, apart from the stored semantics.
    legend = window.legend.model
    on_screen = sum(legend.pixels(legend.value_at(row)) for row in range(legend.rowCount()))
    assert on_screen > 0
    assert panel.cell(panel.measures, "Area (px)", "WT") == str(on_screen)
    whole = next(entry for entry in summary if entry.region == "WT")
    assert panel.cell(panel.volume, "Largest slice", "WT") == str(largest)
    assert panel.cell(panel.volume, "Voxels", "WT") == str(whole.voxel_count)


def test_keys_and_wheel_move_slices(qtbot, make_window, demo_db):
    window = make_window(demo_db)
    open_demo(qtbot, window)
    view = window.panes.active_view
    start = view.slice_index

    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.slice_index == start + 1 + 10
    centre = QPointF(view._graphics.viewport().width() / 2, view._graphics.viewport().height() / 2)
    wheel(view, centre, -120)
    assert view.slice_index == start + 10
    settle(qtbot)
    assert _slice_index(demo_db, window.case.slice_id) == start + 10
    described = window.semantics_panel.description.text()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    settle(qtbot)
    assert _slice_index(demo_db, window.case.slice_id) == 0
    assert window.semantics_panel.description.text() != described


def test_status_readout_follows_slice_keys(qtbot, make_window, demo_db):
    window = make_window(demo_db)
    open_demo(qtbot, window)
    view = window.panes.active_view
    start = view.slice_index
    x, y, width, height = view.image_source.geometry.rect
    mouse_move(view, viewport_point(view, x + width / 2, y + height / 2))
    before = window.readout.text()

    assert before
    assert before == view.readout_text
    assert f", {start}) " in before
    for key, expected in ((Qt.Key.Key_Up, start + 1), (Qt.Key.Key_PageUp, start + 11),
                          (Qt.Key.Key_Down, start + 10)):
        qtbot.keyClick(view, key)
        assert view.slice_index == expected
        assert f", {expected}) " in view.readout_text
        assert window.readout.text() == view.readout_text

    leave(view)
    assert window.readout.text() == ""
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert window.readout.text() == ""


def test_window_level_presets_and_drag(qtbot, make_window, demo_db):
    window = make_window(demo_db)
    open_demo(qtbot, window)
    view = window.panes.active_view
    stats = view.image_source.stats

    qtbot.keyClick(view, Qt.Key.Key_2)
    assert view.window.levels == pytest.approx((stats["min"], stats["max"]))
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.window.levels == pytest.approx((stats["p1"], stats["p99"]))
    before = view.window
    mouse_drag(view, QPointF(300, 300), QPointF(360, 300), Qt.MouseButton.RightButton)
    assert view.window.width > before.width
    assert view.window.center == pytest.approx(before.center, abs=1e-6)


def test_overlay_keys_persist(qtbot, make_window, demo_db, settings_path):
    window = make_window(demo_db)
    open_demo(qtbot, window)
    view = window.panes.active_view
    overlay = window.panes.settings
    opacity = overlay.opacity

    qtbot.keyClick(view, Qt.Key.Key_S)
    assert not overlay.visible
    assert not window.overlay_controls.visible_box.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_S)
    qtbot.keyClick(view, Qt.Key.Key_D)
    qtbot.keyClick(view, Qt.Key.Key_D)
    assert overlay.opacity == pytest.approx(opacity + 0.10)
    assert window.overlay_controls.opacity_slider.value() == round(100 * (opacity + 0.10))
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert overlay.mode == "outline"
    assert window.overlay_controls.mode_box.currentData() == "outline"
    outline = view.label_source.outline(view.slice_index)
    filled = view.label_source.slice(view.slice_index)
    assert 0 < np.count_nonzero(outline) < np.count_nonzero(filled)

    window.close()
    reopened = AppSettings.at(settings_path)
    assert reopened.overlay_mode == "outline"
    assert reopened.overlay_opacity == pytest.approx(opacity + 0.10)
    assert reopened.overlay_visible


@pytest.fixture
def brats_db(db, mricron, tmp_path):
    """A database with one BraTS-style NIfTI case: four modalities and a label map."""
    folder = build_brats_case(tmp_path / "BraTS2021_00002", mricron)
    import_paths(db, [folder], dataset="brats")
    return db


def _first_slice(db, modality, index):
    with db.session() as session:
        return session.scalar(select(Slice.id).join(Series).where(Series.modality == modality,
                                                                  Slice.index == index))


def test_linked_panes_show_case_in_step(qtbot, make_window, brats_db):
    window = make_window(brats_db)
    window.open_slice(_first_slice(brats_db, "T2", 90))
    wait_loaded(qtbot, window)
    views = window.panes.visible_views()

    assert [view.image_source.title for view in views] == ["T1", "T1CE", "T2", "FLAIR"]
    assert all(view.label_source is not None for view in views)
    assert window.panes.active_view is views[2]
    assert [view.slice_index for view in views] == [90] * 4
    qtbot.keyClick(views[2], Qt.Key.Key_Up)
    assert [view.slice_index for view in views] == [91] * 4
    settle(qtbot)
    with brats_db.session() as session:
        current = session.get(Slice, window.case.slice_id)
        assert (session.get(Series, current.series_id).modality, current.index) == ("T2", 91)

    qtbot.keyClick(views[2], Qt.Key.Key_L)
    assert not window.panes.linked
    qtbot.keyClick(views[2], Qt.Key.Key_Up)
    assert [view.slice_index for view in views] == [91, 91, 92, 91]
    link = next(action for action in window.menus["View"].actions() if action.objectName() == "view.link")
    assert not link.isChecked()
    link.setChecked(True)
    assert [view.slice_index for view in views] == [92] * 4


def test_open_slice_of_same_case_keeps_volumes(qtbot, make_window, brats_db):
    window = make_window(brats_db)
    window.open_slice(_first_slice(brats_db, "T1", 80))
    wait_loaded(qtbot, window)
    volume = window.panes.views[0].image_source.volume
    window.open_slice(_first_slice(brats_db, "FLAIR", 85))
    assert window.case.loading_case_id is None  # no reload for a slice of the shown case
    assert window.panes.views[0].image_source.volume is volume
    assert window.panes.active_view is window.panes.views[3]
    assert window.panes.views[3].slice_index == 85


def test_missing_file_offers_data_root(qtbot, make_window, bench_db, tmp_path):
    with bench_db.session() as session:
        dataset = session.scalar(select(Dataset).where(Dataset.name == f"{BENCHMARK} images"))
        old_root = dataset.data_root
        slice_id = session.scalar(select(Slice.id).join(Series).join(Case).where(Case.dataset_id == dataset.id)
                                  .order_by(Slice.id))
        dataset_id = dataset.id
    # The images move: the dataset's recorded paths point into a folder that is gone.
    moved = tmp_path / "moved-images"
    shutil.copytree(old_root, moved)
    with bench_db.session(write=True) as session:
        for series in session.scalars(select(Series).join(Case).where(Case.dataset_id == dataset_id)):
            series.source_path = series.source_path.replace(old_root, str(tmp_path / "gone"))
        session.get(Dataset, dataset_id).data_root = str(tmp_path / "gone")
    window = make_window(bench_db)

    window.open_slice(slice_id)
    qtbot.waitUntil(lambda: window.case.loading_case_id is None, timeout=30_000)
    placeholder = window.case.placeholder
    assert window.case.stack.currentWidget() is placeholder
    assert "not found" in placeholder.text
    assert placeholder.data_root_button.isVisible()

    qtbot.mouseClick(placeholder.data_root_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.fileSelected.emit(str(moved))
    dialog.close()
    wait_loaded(qtbot, window)

    assert window.case.stack.currentWidget() is window.panes
    assert window.panes.active_view.image_source.volume.source_path.is_relative_to(moved)
    assert window.settings.data_roots[str(dataset_id)] == str(moved)


def test_switching_cases_frees_cached_slices(qtbot, make_window, brats_db):
    from engine.demo import create_demo
    from engine.display.slice_cache import default_cache

    create_demo(brats_db)
    window = make_window(brats_db)
    window.open_slice(_first_slice(brats_db, "T1", 90))
    wait_loaded(qtbot, window)
    old_uids = {view.image_source.uid for view in window.panes.visible_views()}
    cache = default_cache()
    assert any(isinstance(key, tuple) and key[0] in old_uids for key in list(cache._entries))

    open_demo(qtbot, window)

    assert window.panes.active_view.image_source.title == "T1"
    assert not any(isinstance(key, tuple) and key[0] in old_uids for key in list(cache._entries))
    assert cache.nbytes <= cache.budget_bytes


def test_cancel_loading_keeps_placeholder(qtbot, make_window, brats_db):
    window = make_window(brats_db)
    loaded = []
    window.case.loader.loaded.connect(loaded.append)
    window.open_slice(_first_slice(brats_db, "T1", 90))
    placeholder = window.case.placeholder
    assert window.case.stack.currentWidget() is placeholder
    assert placeholder.cancel_button.isVisible()

    qtbot.mouseClick(placeholder.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.wait(1500)  # long enough for the four volumes to have loaded, had they not been cancelled

    assert loaded == []
    assert window.case.loading_case_id is None
    assert window.case.stack.currentWidget() is placeholder
    assert placeholder.text.startswith("Loading cancelled")
    assert not placeholder.cancel_button.isVisible()
    window.open_slice(_first_slice(brats_db, "T1", 90))  # selecting it again loads it
    wait_loaded(qtbot, window)
    assert window.case.stack.currentWidget() is window.panes
