"""The questions panel in the main window: answers, blind mode, keywords, missing images."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.settings import AppSettings
from app_data import (BENCHMARK, bench_db, bench_template, demo_db, demo_template,  # noqa: F401
                      item_pk, render_item_images, write_benchmark_files)
from conftest import SHARED_DATA
from engine.bench.importer import import_benchmark
from engine.jobs import queue
from engine.jobs.worker import run_job
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path, wait_loaded  # noqa: F401

pytestmark = pytest.mark.gui


def _open_item(qtbot, window, db, item_id):
    window.open_item(item_pk(db, item_id))
    wait_loaded(qtbot, window)


def _answer(window, run_name, question_type, kind="closed"):
    for question in window.questions_panel.questions:
        if question.question_type == question_type and question.kind == kind:
            return question, next(answer for answer in question.answers if answer.run_name == run_name)
    raise AssertionError(f"no {kind} {question_type} question shown")


def test_questions_with_gold_and_answers(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    _open_item(qtbot, window, bench_db, 3)
    rows = window.questions_panel.item_texts()

    assert rows[0][0] == "modality: What is the MRI sequence used in this study?"
    assert rows[0][1] == "gold C"
    assert [row[0] for row in rows[1:3]] == ["random", "notes-run"]
    assert rows[2][1] == "C \u2713"
    assert sum(row[1].startswith("gold") for row in rows) == 6  # the six closed questions

    question, answer = _answer(window, "notes-run", "modality")
    window.questions_panel.select_answer(answer.answer_id)
    detail = window.questions_panel.detail.toPlainText()
    assert "Model notes, prompt template default, mode generate, latency 120 ms" in detail
    assert "Parsed letter C (right), rule" in detail
    assert "Compared the options for the modality question." in detail
    assert "Letter probabilities (mass on letters 0.900)" in detail
    assert "C 0.600" in detail
    assert "Answer: C" in detail  # the raw output
    assert "FLAIR (gold)" in detail


def test_trap_question_marked(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    _open_item(qtbot, window, bench_db, 3)
    question, answer = _answer(window, "notes-run", "diagnosis")
    window.questions_panel.select_answer(answer.answer_id)
    detail = window.questions_panel.detail.toPlainText()
    assert question.is_trap
    assert f"Removed answer: {question.original_answer}" in detail
    assert "(wrong)" in detail


def test_blind_hides_gold_and_correctness(qtbot, make_window, bench_db, settings_path):
    window = make_window(bench_db)
    _open_item(qtbot, window, bench_db, 3)
    question, answer = _answer(window, "notes-run", "modality")
    window.questions_panel.select_answer(answer.answer_id)
    window.panes.active_view.setFocus()

    qtbot.keyClick(window.panes.active_view, Qt.Key.Key_B)

    assert window.questions_panel.blind
    assert window.questions_panel.blind_box.isChecked()
    rows = window.questions_panel.item_texts()
    assert not any("gold" in row[1] or "\u2713" in row[1] or "\u2717" in row[1] for row in rows)
    detail = window.questions_panel.detail.toPlainText()
    assert window.questions_panel.current_answer_id() == answer.answer_id
    assert "(gold)" not in detail
    assert "(right)" not in detail
    assert "accuracy" not in detail
    assert "Parsed letter C" in detail
    assert window.runs_table.table.isColumnHidden(5)
    open_question, open_answer = _answer(window, "notes-run", "Detail", kind="open")
    window.questions_panel.select_answer(open_answer.answer_id)
    detail = window.questions_panel.detail.toPlainText()
    assert "Reference answer" not in detail
    assert "Keywords hit" not in detail
    assert AppSettings.at(settings_path).blind

    window.questions_panel.blind_box.setChecked(False)
    assert not window.runs_table.table.isColumnHidden(5)
    assert "Reference answer" in window.questions_panel.detail.toPlainText()


def test_open_answer_keywords_highlighted(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    _open_item(qtbot, window, bench_db, 3)
    question, answer = _answer(window, "notes-run", "Detail", kind="open")
    window.questions_panel.select_answer(answer.answer_id)
    html = window.questions_panel.detail.toHtml()
    text = window.questions_panel.detail.toPlainText()

    assert answer.keywords_hit and answer.keywords_missed
    assert f"Keywords hit {', '.join(answer.keywords_hit)}" in text
    assert f"Keywords missed {', '.join(answer.keywords_missed)}" in text
    assert html.count("background-color:#c8e6c9") >= len(answer.keywords_hit) * 2  # in the answer and the list
    assert html.count("background-color:#ffcdd2") == len(answer.keywords_missed)
    assert question.reference_answer.split()[0] in text
    row = next(row for row in window.questions_panel.item_texts() if row[0] == "notes-run" and "keywords" in row[1])
    assert row[1] == f"text {len(answer.keywords_hit)}/{len(question.keywords)} keywords"


def test_missing_image_shows_questions_and_placeholder(qtbot, make_window, bench_db):
    window = make_window(bench_db)
    window.open_item(item_pk(bench_db, 4))
    placeholder = window.case.placeholder

    assert window.case.stack.currentWidget() is placeholder
    assert "is not available" in placeholder.text
    assert placeholder.data_root_button.isVisible()
    questions = window.questions_panel.questions
    assert questions and {question.item_id for question in questions} == {4}
    assert window.questions_panel.title.text().endswith("(image missing)")
    assert window.semantics_panel.description.text().startswith("The image of this item is not imported")
    assert window.review.items and window.review.slice_id is None


@pytest.mark.slow
def test_set_data_root_shows_image(qtbot, make_window, demo_db, tmp_path):
    """A benchmark imported without its (gated) images gets them through the placeholder."""
    files = write_benchmark_files(tmp_path / "files", SHARED_DATA)
    render_item_images(files.root, list(files.items.values()), (1, 3, 4))
    import_benchmark(demo_db, files.closed, files.open, name=BENCHMARK)
    bench_db = demo_db
    window = make_window(bench_db)
    window.open_item(item_pk(bench_db, 4))
    assert window.case.stack.currentWidget() is window.case.placeholder

    qtbot.mouseClick(window.case.placeholder.data_root_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.fileSelected.emit(str(files.root))
    dialog.close()
    row = window.jobs_panel.row_of(max(job.id for job in queue.list_jobs(bench_db)))
    assert window.jobs_panel.text(row, 1) == "bench.set_data_root"
    assert window.jobs_panel.cancel_button(row) is not None

    # The worker's part, in this process: claim the queued job and run it.
    job_id = queue.claim_next(bench_db, "test-worker")
    state = run_job(bench_db, job_id)
    assert state == "succeeded", queue.get_job(bench_db, job_id).log
    window.jobs.poll()
    wait_loaded(qtbot, window)

    assert window.case.stack.currentWidget() is window.panes
    assert window.panes.active_view.image_source.volume.source_path.is_relative_to(files.root)
    assert {question.item_id for question in window.questions_panel.questions} == {4}
    assert window.settings.data_roots[BENCHMARK] == str(files.root)
    assert window.jobs_panel.text(window.jobs_panel.row_of(job_id), 2) == "succeeded"
