"""The comparison window on crafted runs: table, charts, confusion matrix, click-through, files.

The crafted run is a published-style prediction file for the four real MM-NeuroOnco items
of the test benchmark (16 closed questions, 4 of them diagnosis, 2 traps). Every answer is
the gold letter except the diagnosis answers, which are all wrong. On the five-option
non-trap diagnosis questions (items 1 and 9) it chooses E, on the trap (item 3) A
("metastasis"), on the two-option question (item 4) B ("Abnormal").
"""

from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from sqlalchemy import select

from app_data import BENCHMARK, ITEM_IDS, bench_db, bench_template  # noqa: F401
from db.models import Benchmark, BenchmarkItem
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, settle_tasks  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path, wait_loaded  # noqa: F401

pytestmark = pytest.mark.gui

CRAFTED = f"external:crafted@{BENCHMARK}"


def _crafted_predictions(shared_data, folder):
    from benchmark_files import closed_items

    lines = []
    for item in closed_items(shared_data, ITEM_IDS):
        for q_index, pair in enumerate(item["vqa_pairs"]):
            letter = pair["answer"]
            if pair["question_type"] == "diagnosis":
                if pair.get("meta_trap"):
                    letter = "A"
                elif len(pair["options"]) == 2:
                    letter = "B"
                else:
                    letter = "E"
            lines.append(json.dumps({"id": item["id"], "q_index": q_index, "pred": letter}))
    path = folder / "preds_crafted.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def compared(research_window, bench_db, shared_data, tmp_path):
    """A window whose comparison shows the crafted run alone."""
    window = research_window(bench_db)
    comparison = window.research.comparison
    comparison.open()
    settle_tasks(comparison)
    comparison.import_predictions(str(_crafted_predictions(shared_data, tmp_path)), BENCHMARK)
    settle_tasks(comparison)
    return window, comparison


def _item(db, item_id: int, column):  # noqa: ANN001 - a BenchmarkItem column
    with db.session() as session:
        return session.scalar(select(column).join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
                              .where(Benchmark.name == BENCHMARK, BenchmarkItem.item_id == item_id))


def test_table_shows_crafted_metrics(compared):
    _window, comparison = compared
    panel = comparison.panel
    assert panel.checked_runs() == [CRAFTED]
    table = panel.table
    assert table.text(CRAFTED, "accuracy").startswith("75.0% [")  # 12 of 16
    assert table.text(CRAFTED, "type:diagnosis") == "0.0%"
    for question_type in ("modality", "size", "shape", "spread", "location"):
        assert table.text(CRAFTED, f"type:{question_type}") == "100.0%"
    assert table.text(CRAFTED, "trap") == "50.0%"              # spread trap right, diagnosis trap wrong
    assert table.text(CRAFTED, "non_trap") == "78.6%"          # 11 of 14
    assert table.text(CRAFTED, "false_rejection") == "15.4%"   # E on 2 of 13 answerable five-option
    assert table.text(CRAFTED, "unparsed") == "0.0%"
    assert table.text(CRAFTED, "agreement") == "-"


def test_charts_show_crafted_metrics(compared):
    _window, comparison = compared
    panel = comparison.panel
    assert panel.type_chart.categories == ["diagnosis", "modality", "size", "shape", "spread", "location"]
    assert panel.type_chart.values() == {CRAFTED: [0.0, 1.0, 1.0, 1.0, 1.0, 1.0]}
    assert panel.trap_chart.values()[CRAFTED] == pytest.approx([0.5, 11 / 14])

    panel.set_checked([CRAFTED, "random", "notes-run"])
    settle_tasks(comparison)
    assert [row["run"] for row in panel.table.rows] == ["random", "notes-run", CRAFTED]
    assert set(panel.type_chart.values()) == {"random", "notes-run", CRAFTED}
    # The notes model answers even question indexes right and odd ones wrong.
    notes = panel.type_chart.values()["notes-run"]
    assert notes[panel.type_chart.categories.index("modality")] == pytest.approx(0.5)


def test_confusion_matrix_of_diagnosis(compared):
    _window, comparison = compared
    confusion = comparison.panel.confusion
    gold, predicted = confusion.labels
    assert sorted(gold) == ["Healthy", "None of the above", "ependymoma", "glioma"]
    assert sorted(predicted) == ["Abnormal", "None of the above", "metastasis"]
    assert confusion.count_text("ependymoma", "None of the above") == "1"
    assert confusion.count_text("glioma", "None of the above") == "1"
    assert confusion.count_text("None of the above", "metastasis") == "1"
    assert confusion.count_text("Healthy", "Abnormal") == "1"
    assert confusion.count_text("Healthy", "None of the above") == ""


def test_confusion_cell_opens_item(qtbot, compared, bench_db):
    window, comparison = compared
    comparison.panel.confusion.choose("Healthy", "Abnormal")
    settle_tasks(comparison)
    questions = comparison.panel.questions
    assert comparison.panel.tabs.currentWidget() is questions
    assert [(row.item_id, row.question_type, row.predicted) for row in questions.rows] == [(4, "diagnosis", "B")]

    shown = []
    window.currentItemChanged.connect(shown.append)
    questions.open_row(0)
    item_pk = _item(bench_db, 4, BenchmarkItem.id)
    assert shown == [item_pk]
    assert window.item_pk == item_pk
    assert window.origin == "item"


def test_type_cell_opens_slice(qtbot, compared, bench_db):
    window, comparison = compared
    comparison.panel.table.choose(CRAFTED, "type:size")
    settle_tasks(comparison)
    rows = comparison.panel.questions.rows
    assert [(row.item_id, row.correct) for row in rows] == [(3, True), (9, True)]
    slice_id = _item(bench_db, 3, BenchmarkItem.slice_id)
    assert slice_id is not None  # item 3's image is under the data root
    comparison.panel.questions.open_row(0)
    wait_loaded(qtbot, window)
    assert window.case.slice_id == slice_id


def test_trap_bar_click_lists_traps(qtbot, compared):
    _window, comparison = compared
    chart = comparison.panel.trap_chart
    x, y = chart.bar_centre(CRAFTED, "trap")
    assert chart.bar_at(x, y) == (CRAFTED, "trap")
    assert chart.bar_at(x, 90.0) is None  # above the 50% bar

    view = chart.plot.getPlotItem().vb
    scene_point = view.mapViewToScene(QPointF(x, y))
    point = chart.plot.mapFromScene(scene_point)
    qtbot.mouseClick(chart.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point.x(), point.y()))
    settle_tasks(comparison)
    rows = comparison.panel.questions.rows
    assert [(row.item_id, row.question_type) for row in rows] == [(3, "diagnosis"), (3, "spread")]
    assert all(row.is_trap for row in rows)


def test_exports_write_files(compared, tmp_path):
    _window, comparison = compared
    comparison.export("comparison-csv", str(tmp_path / "comparison.csv"))
    comparison.export("comparison-json", str(tmp_path / "comparison.json"))
    comparison.export("report", str(tmp_path / "report.html"))
    settle_tasks(comparison)

    with open(tmp_path / "comparison.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["run"] for row in rows] == [CRAFTED]
    assert float(rows[0]["accuracy"]) == pytest.approx(0.75)
    document = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    assert document[0]["false_rejection_rate"] == pytest.approx(2 / 13)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert CRAFTED in html
    assert html.count("<svg") >= 2
    assert "<script" not in html
    assert "Wrote" in comparison.panel.status.text()


def test_report_follows_selected_cell(compared, tmp_path):
    _window, comparison = compared
    comparison.panel.set_checked([CRAFTED, "random"])
    settle_tasks(comparison)
    comparison.panel.table.choose("random", "trap")
    settle_tasks(comparison)
    comparison.export("report", str(tmp_path / "random.json"))
    settle_tasks(comparison)
    document = json.loads((tmp_path / "random.json").read_text(encoding="utf-8"))
    assert document["config"]["run"] == "random"


def test_export_rejects_unknown_suffix(compared, tmp_path):
    _window, comparison = compared
    comparison.export("report", str(tmp_path / "report.txt"))
    settle_tasks(comparison)
    assert "use a .html, .csv or .json file name" in comparison.panel.status.text()
    assert not (tmp_path / "report.txt").exists()
