"""The browser: tree levels, paging and filters over the demo study and a real benchmark."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app_data import BENCHMARK, bench_db, bench_template, demo_template  # noqa: F401
from db.models import MaskRegionSummary, Run, Slice
from engine.demo import DEMO_DATASET, DEMO_T1
from engine.io.importer import import_paths
from engine.review import ReviewTarget, record_review
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from widgets.browser_tree import BrowserNode
from window_fixtures import app_settings, make_window, settings_path, wait_loaded  # noqa: F401

pytestmark = pytest.mark.gui


def _roots(window) -> dict[str, int]:
    return {node.label: node.count for node in window.browser.tree.model.root.children}


def _children(window, node: BrowserNode) -> list[BrowserNode]:
    window.browser.tree.expand_node(node)
    return node.children


def _root(window, label: str) -> BrowserNode:
    return next(node for node in window.browser.tree.model.root.children if node.label == label)


def test_tree_levels_and_counts(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    # The demo study brings its generated benchmark (13 items) beside the test's 4 items.
    assert _roots(window) == {"Datasets": 162, "Benchmarks": 17}

    datasets = _children(window, _root(window, "Datasets"))
    assert [(node.label, node.count) for node in datasets] == [(DEMO_DATASET, 160), (f"{BENCHMARK} images", 2)]
    cases = _children(window, datasets[0])
    assert [(node.kind, node.label, node.detail) for node in cases] == [("case", "colin27", "tumor")]
    series = _children(window, cases[0])
    assert [(node.label, node.detail, node.count) for node in series] == [("T1", "colin27_t1.nii.gz", 160)]
    slices = _children(window, series[0])
    assert [node.label for node in slices[:3]] == ["slice 0", "slice 1", "slice 2"]
    assert len(slices) == 160

    # The 2D images of the benchmark's data root: each image a case with one slice.
    image_cases = _children(window, datasets[1])
    assert [node.detail for node in image_cases] == ["ependymoma", "glioma"]
    image_series = _children(window, image_cases[1])
    assert [(node.label, node.detail) for node in image_series] == [("FLAIR", "BraTS2021_01648_flair.png")]
    assert [(node.label, node.detail) for node in _children(window, image_series[0])] == [
        ("BraTS2021_01648_flair.png", "mask")]

    benchmarks = _children(window, _root(window, "Benchmarks"))
    assert [(node.label, node.count) for node in benchmarks] == [("Demo benchmark", 13), (BENCHMARK, 4)]
    items = _children(window, benchmarks[1])
    assert [node.label for node in items] == ["item 1", "item 3", "item 4", "item 9"]
    assert [node.detail for node in items][2:] == ["image missing", "image missing"]


def test_slices_fetched_in_pages(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    series_node = BrowserNode("series", 1, "T1", expandable=True)
    first, total = window.browser.fetch(series_node, 0, 50)
    later, _ = window.browser.fetch(series_node, 150, 50)
    assert total == 160
    assert [node.label for node in first] == [f"slice {index}" for index in range(50)]
    assert [node.label for node in later] == [f"slice {index}" for index in range(150, 160)]


def test_filters_narrow_both_branches(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    panel = window.browser.filter_panel

    panel.set_value("tumour_type", "glioma")
    assert _roots(window) == {"Datasets": 1, "Benchmarks": 2}  # items 3 and 9 are glioma images
    panel.set_value("tumour_type", None)
    panel.set_value("has_mask", True)
    masked = _roots(window)["Datasets"]
    with bench_db.session() as session:
        assert masked == len(session.scalars(select(Slice.id).where(Slice.has_mask.is_(True))).all())
    # Item 3's slice and the demo benchmark's 13 items on masked demo slices.
    assert _roots(window)["Benchmarks"] == 1 + 13
    panel.set_value("has_mask", None)

    panel.set_value("image_missing", True)
    assert _roots(window) == {"Datasets": 0, "Benchmarks": 2}
    panel.set_value("image_missing", None)
    panel.set_value("benchmark", "any")
    # The slices linked to benchmark items: 2 images and the demo's 13 volume slices.
    assert _roots(window)["Datasets"] == 2 + 13
    panel.set_value("benchmark", None)

    with bench_db.session() as session:
        run_id = session.scalar(select(Run.id).where(Run.name == "notes-run"))
    panel.set_value("run", run_id)
    assert panel.boxes["run_outcome"].isEnabled()
    panel.set_value("run_outcome", "wrong")
    assert _roots(window) == {"Datasets": 2, "Benchmarks": 4}
    panel.set_value("run", None)
    assert not panel.boxes["run_outcome"].isEnabled()

    panel.set_value("text", "01648")
    assert _roots(window) == {"Datasets": 1, "Benchmarks": 1}


def test_modality_and_label_filters(qtbot, make_window, bench_db):
    from db.models import Semantics, Series

    window = make_window(bench_db)
    window.browser.refresh_choices()
    panel = window.browser.filter_panel

    panel.set_value("modality", "FLAIR")
    with bench_db.session() as session:
        flair = len(session.scalars(select(Slice.id).join(Series).where(Series.modality == "FLAIR")).all())
    assert flair > 0
    assert _roots(window)["Datasets"] == flair
    panel.set_value("modality", None)

    panel.set_value("size", "Large/Extensive")
    with bench_db.session() as session:
        large = set(session.scalars(select(Semantics.slice_id).where(
            Semantics.region.in_(("whole", "WT")), Semantics.size == "Large/Extensive")))
    assert large
    assert _roots(window)["Datasets"] == len(large)
    with bench_db.session() as session:
        upper_left = set(session.scalars(select(Semantics.slice_id).where(
            Semantics.region.in_(("whole", "WT")), Semantics.location == "Upper-Left Region")))
    panel.set_value("location", "Upper-Left Region")
    assert _roots(window)["Datasets"] == len(large & upper_left)
    panel.set_value("size", None)
    assert len(upper_left) > len(large & upper_left)
    assert _roots(window)["Datasets"] == len(upper_left)
    panel.set_value("location", None)
    with bench_db.session() as session:
        assert _roots(window)["Datasets"] == len(session.scalars(select(Slice.id)).all())


def test_review_state_filter(qtbot, make_window, bench_db):
    with bench_db.session(write=True) as session:
        first = session.scalar(select(Slice.id).order_by(Slice.id))
        record_review(session, ReviewTarget("slice", first), "ana", "flag")
    window = make_window(bench_db)
    window.browser.refresh_choices()
    panel = window.browser.filter_panel
    panel.set_value("review_state", "flag")
    assert _roots(window)["Datasets"] == 1
    panel.set_value("review_state", "unreviewed")
    assert _roots(window)["Datasets"] == 161
    panel.set_value("review_state", None)
    panel.set_value("reviewer", "ana")
    assert _roots(window)["Datasets"] == 1


def test_selecting_rows_opens_them(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    datasets = _children(window, _root(window, "Datasets"))
    series = _children(window, _children(window, datasets[0])[0])
    slices = _children(window, series[0])

    window.browser.tree.select_node(slices[42])
    wait_loaded(qtbot, window)
    assert window.case.slice_id == slices[42].key
    assert window.panes.active_view.slice_index == 42

    window.browser.tree.select_node(series[0])  # a volume with a label map opens at its largest lesion
    wait_loaded(qtbot, window)
    assert window.panes.active_view.slice_index == _largest_lesion_index(bench_db)

    benchmarks = _children(window, _root(window, "Benchmarks"))
    items = _children(window, next(node for node in benchmarks if node.label == BENCHMARK))
    window.browser.tree.select_node(items[2])
    assert window.origin == "item"
    assert window.item_pk == items[2].key
    assert window.case.stack.currentWidget() is window.case.placeholder


def _largest_lesion_index(db) -> int:
    with db.session() as session:
        return session.scalar(select(MaskRegionSummary.largest_slice_index)
                              .where(MaskRegionSummary.region == "WT"))


def test_volume_without_mask_opens_middle(qtbot, make_window, bench_db):
    import_paths(bench_db, [DEMO_T1], dataset="T1 without mask")
    window = make_window(bench_db)
    datasets = _children(window, _root(window, "Datasets"))
    plain = next(node for node in datasets if node.label == "T1 without mask")
    series = _children(window, _children(window, plain)[0])

    window.browser.tree.select_node(series[0])
    wait_loaded(qtbot, window)
    assert series[0].count == 160
    assert window.panes.active_view.slice_index == 80
    assert _largest_lesion_index(bench_db) != 80


def test_last_dataset_remembered(qtbot, make_window, bench_db, settings_path):
    window = make_window(bench_db)
    datasets = _children(window, _root(window, "Datasets"))
    window.browser.tree.select_node(datasets[1])
    assert window.settings.last_dataset == f"{BENCHMARK} images"
    window.close()
    from app.settings import AppSettings

    assert AppSettings.at(settings_path).last_dataset == f"{BENCHMARK} images"
