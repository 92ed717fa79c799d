"""The review workflow in the main window: keys, stored rows, undo, restart, export, agreement."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog
from sqlalchemy import select

from app.reviews_dialog import ReviewsDialog
from app.settings import AppSettings
from app_data import BENCHMARK, bench_db, bench_template, demo_db, demo_template, item_pk  # noqa: F401
from db.models import Answer, BenchmarkItem, Question, Review, Run, Slice
from db.session import open_database
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from window_fixtures import app_settings, make_window, open_demo, settings_path, settle, wait_loaded  # noqa: F401

pytestmark = pytest.mark.gui


def _reviews(db):
    with db.session() as session:
        return [(row.target, row.answer_id, row.slice_id, row.reviewer, row.verdict, row.comment, row.version,
                 row.corrected_answer, row.corrected_label)
                for row in session.scalars(select(Review).order_by(Review.id))]


def _open_item(qtbot, window, db, item_id):
    window.open_item(item_pk(db, item_id))
    wait_loaded(qtbot, window)
    view = window.panes.active_view
    view.setFocus()
    return view


@pytest.fixture
def reviewer(app_settings):
    app_settings.set_reviewer("ana")
    return app_settings


def test_verdict_keys_write_rows(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    queue = window.review.items
    first, second = queue[0].target, queue[1].target

    qtbot.keyClick(view, Qt.Key.Key_Y)
    assert window.review_panel.verdict == "agree"
    qtbot.keyClick(view, Qt.Key.Key_C)
    assert window.review_panel.comment.hasFocus()
    qtbot.keyClicks(window.review_panel.comment, "parsed well")
    qtbot.keyClick(window.review_panel.comment, Qt.Key.Key_Return)
    assert window.review.position == 1
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_U)
    qtbot.keyClick(view, Qt.Key.Key_Enter)
    qtbot.keyClick(view, Qt.Key.Key_F)
    qtbot.keyClick(view, Qt.Key.Key_Return)

    rows = _reviews(bench_db)
    assert rows[0] == ("answer", first.target_id, None, "ana", "agree", "parsed well", 1, None, None)
    assert rows[1] == ("answer", second.target_id, None, "ana", "disagree", None, 1, None, None)
    assert rows[2][4] == "flag"
    assert window.review.position == 3
    marks = [row[2] for row in window.questions_panel.item_texts()]
    assert marks[1:3] == ["agree", "disagree"]


def test_review_keys_ignored_in_search_box(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    _open_item(qtbot, window, bench_db, 3)
    search = window.browser.filter_panel.search
    search.setFocus()
    qtbot.keyClicks(search, "yuf")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert search.text() == "yuf"
    assert window.review_panel.verdict is None
    assert _reviews(bench_db) == []


def test_save_without_verdict_writes_nothing(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert _reviews(bench_db) == []
    assert "Choose a verdict" in window.statusBar().currentMessage()


def test_corrected_answer_stored(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    qtbot.keyClick(view, Qt.Key.Key_U)
    box = window.review_panel.corrected_answer
    box.setCurrentIndex(box.findText("C"))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert _reviews(bench_db)[0][4] == "disagree"
    assert _reviews(bench_db)[0][7] == "C"


def test_undo_appends_previous_version(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    qtbot.keyClick(view, Qt.Key.Key_Y)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    window.review.step(-1)  # back to the first item, to edit the review
    qtbot.keyClick(view, Qt.Key.Key_U)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert [row[4] for row in _reviews(bench_db)] == ["agree", "disagree"]

    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    rows = _reviews(bench_db)
    assert [(row[4], row[6]) for row in rows] == [("agree", 1), ("disagree", 2), ("agree", 3)]
    assert window.review.position == 0
    assert window.review.current.verdict == "agree"
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _reviews(bench_db)[-1][4] == "withdrawn"
    assert window.review.current.verdict is None
    assert not window.review_panel.undo_button.isEnabled()
    history = [window.review_panel.history.item(row).text() for row in range(window.review_panel.history.count())]
    assert len(history) == 4
    assert history[0].startswith("v1")
    assert history[-1].startswith("v4")
    assert "withdrawn" in history[-1]


def test_reviewer_name_asked_once(qtbot, make_window, bench_db, app_settings, settings_path):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    qtbot.keyClick(view, Qt.Key.Key_Y)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    dialog = window.findChild(QInputDialog)
    assert dialog is not None and dialog.isVisible()
    assert _reviews(bench_db) == []
    dialog.setTextValue("  Dr Ben  ")
    dialog.accept()

    assert _reviews(bench_db)[0][3:5] == ("Dr Ben", "agree")
    assert AppSettings.at(settings_path).reviewer == "Dr Ben"
    assert window.review_panel.reviewer_label.text() == "Reviewer: Dr Ben"
    qtbot.keyClick(view, Qt.Key.Key_Y)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert len(_reviews(bench_db)) == 2


def test_slice_review_with_corrected_label(qtbot, make_window, demo_db, reviewer):
    window = make_window(demo_db)
    open_demo(qtbot, window)
    slice_id = window.case.slice_id
    panel = window.review_panel
    assert panel.item_label.text() == "this slice (mask and semantics)"
    window.panes.active_view.setFocus()
    qtbot.keyClick(window.panes.active_view, Qt.Key.Key_F)
    panel.label_field.setCurrentText("size")
    panel.label_value.setEditText("Large/Extensive")
    qtbot.keyClick(window.panes.active_view, Qt.Key.Key_Return)

    assert _reviews(demo_db)[0] == ("slice", None, slice_id, "ana", "flag", None, 1, None, "size=Large/Extensive")
    settle(qtbot)
    with demo_db.session() as session:
        index = session.get(Slice, window.case.slice_id).index
        assert index == session.get(Slice, slice_id).index + 1  # the next unreviewed slice
    assert window.review_panel.item_label.text() == "this slice (mask and semantics)"


def test_next_skips_slices_already_reviewed(qtbot, make_window, demo_db, reviewer):
    window = make_window(demo_db)
    open_demo(qtbot, window)
    start = window.case.slice_id
    from engine.review import ReviewTarget, record_review

    with demo_db.session(write=True) as session:
        record_review(session, ReviewTarget("slice", start + 1), "ana", "agree")
        record_review(session, ReviewTarget("slice", start + 2), "ben", "agree")
    qtbot.keyClick(window.panes.active_view, Qt.Key.Key_Y)
    qtbot.keyClick(window.panes.active_view, Qt.Key.Key_Return)
    settle(qtbot)
    assert window.case.slice_id == start + 2  # reviewed by ana: skipped; by ben only: not


def test_reviews_survive_restart_and_export(qtbot, make_window, bench_db, reviewer, tmp_path):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    first_answer = window.review.items[0].target.target_id
    qtbot.keyClick(view, Qt.Key.Key_Y)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.keyClick(view, Qt.Key.Key_U)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    window.close()
    url = bench_db.url
    bench_db.dispose()

    reopened_db = open_database(url)
    try:
        reopened = make_window(reopened_db, AppSettings.at(tmp_path / "settings.ini"))
        _open_item(qtbot, reopened, reopened_db, 3)
        assert reopened.review.items[0].verdict == "agree"
        assert reopened.review.items[1].verdict == "disagree"
        assert reopened.review.position == 2  # the first unreviewed item

        dialog = ReviewsDialog(reopened_db)
        qtbot.addWidget(dialog)
        assert [row["verdict"] for row in dialog.rows] == ["agree", "disagree"]
        dialog.verdict.setCurrentIndex(dialog.verdict.findData("disagree"))
        assert [row["verdict"] for row in dialog.rows] == ["disagree"]
        dialog.verdict.setCurrentIndex(0)
        assert dialog.export_to(tmp_path / "reviews.csv") == 2
        assert dialog.export_to(tmp_path / "reviews.json") == 2
    finally:
        reopened_db.dispose()

    with open(tmp_path / "reviews.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["reviewer"], row["verdict"]) for row in rows] == [("ana", "agree"), ("ana", "disagree")]
    assert rows[0]["answer_id"] == str(first_answer)
    assert rows[0]["run"] == "random"
    exported = json.loads((tmp_path / "reviews.json").read_text(encoding="utf-8"))
    assert [row["verdict"] for row in exported] == ["agree", "disagree"]
    stamps = [datetime.fromisoformat(row["created_at"]) for row in exported]
    assert stamps[0] <= stamps[1]
    assert all(abs(datetime.now(timezone.utc) - stamp.replace(tzinfo=stamp.tzinfo or timezone.utc))
               < timedelta(hours=1) for stamp in stamps)
    assert [row["created_at"] for row in rows] == [row["created_at"] for row in exported]
    assert exported[0]["image_path"].endswith("BraTS2021_01648_flair.png")


def test_reviews_dialog_filters_by_reviewer(qtbot, bench_db):
    from engine.review import ReviewTarget, record_review

    with bench_db.session(write=True) as session:
        answers = list(session.scalars(select(Answer.id).order_by(Answer.id)))
        record_review(session, ReviewTarget("answer", answers[0]), "ana", "agree")
        record_review(session, ReviewTarget("answer", answers[1]), "ben", "flag")
    dialog = ReviewsDialog(bench_db)
    qtbot.addWidget(dialog)
    dialog.reviewer.setCurrentIndex(dialog.reviewer.findData("ben"))
    assert [(row["reviewer"], row["verdict"]) for row in dialog.rows] == [("ben", "flag")]


def test_agreement_shown_beside_accuracy(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    view = _open_item(qtbot, window, bench_db, 3)
    with bench_db.session() as session:
        notes_run = session.scalar(select(Run.id).where(Run.name == "notes-run"))
    notes_items = [position for position, item in enumerate(window.review.items)
                   if item.target.kind == "answer" and "notes-run" in item.label]
    for position, key in zip(notes_items[:2], (Qt.Key.Key_Y, Qt.Key.Key_U)):
        window.review._show(position)
        qtbot.keyClick(view, key)
        qtbot.keyClick(view, Qt.Key.Key_Return)

    rows = {window.runs_table.row_values(row)["Run"]: window.runs_table.row_values(row)
            for row in range(window.runs_table.table.rowCount())}
    assert rows["notes-run"]["Agreement"] == "50.0 %"
    assert rows["notes-run"]["Reviewed"] == "2"
    assert rows["notes-run"]["Accuracy"].endswith("%")
    assert rows["random"]["Agreement"] == "-"
    overview = window.panels.overviews[notes_run]
    window.questions_panel.select_answer(window.review.items[notes_items[0]].target.target_id)
    detail = window.questions_panel.detail.toPlainText()
    assert f"accuracy {100 * overview.accuracy:.1f} %, agreement 50.0 % of 2 reviewed" in detail


def test_enter_after_last_item_goes_to_next_item(qtbot, make_window, bench_db, reviewer):
    window = make_window(bench_db)
    window.open_item(item_pk(bench_db, 4))  # image missing: answers only
    qtbot.wait(50)
    assert window.case.stack.currentWidget() is window.case.placeholder
    count = len(window.review.items)
    assert count and all(item.target.kind == "answer" for item in window.review.items)
    window.questions_panel.tree.setFocus()
    for _ in range(count):
        qtbot.keyClick(window.questions_panel.tree, Qt.Key.Key_Y)
        qtbot.keyClick(window.questions_panel.tree, Qt.Key.Key_Return)
    assert len(_reviews(bench_db)) == count
    assert window.item_pk == item_pk(bench_db, 9)
    with bench_db.session() as session:
        item_of_question = session.scalar(
            select(BenchmarkItem.item_id).join(Question).where(Question.id == window.review.current.question_id))
    assert item_of_question == 9
