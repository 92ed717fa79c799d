"""Benchmark sessions from the session dialog: a run in a real worker, resume, engine errors."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from app_data import demo_db, demo_template  # noqa: F401
from db.models import Answer, Job, Run
from engine.bench.run_metrics import run_metrics
from engine.demo import DEMO_BENCHMARK
from engine.jobs import queue
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, run_queued_jobs, settle_tasks, wait_for_job  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path  # noqa: F401

pytestmark = pytest.mark.gui

ORACLE = "baseline:semantics-oracle"


def _open_dialog(window, model: str = ORACLE):
    sessions = window.research.sessions
    dialog = sessions.open_dialog()
    settle_tasks(sessions)
    dialog.benchmark.setCurrentText(DEMO_BENCHMARK)
    dialog.select_model(model)
    return dialog


def _run_row(db, name: str) -> Run:
    with db.session() as session:
        run = session.scalar(select(Run).where(Run.name == name))
        session.expunge(run)
        return run


@pytest.mark.slow
def test_oracle_session_runs_in_worker(qtbot, research_window, demo_db):
    window = research_window(demo_db, start_workers=True)
    dialog = _open_dialog(window)
    assert dialog.benchmark.currentText() == DEMO_BENCHMARK
    assert dialog.setting.currentText() == "rejection-aware"
    assert not dialog.adapter.isEnabled()  # baselines take no adapter
    assert not dialog.mode.isEnabled()

    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    settle_tasks(window.research.sessions)
    sessions = window.research.sessions
    assert sessions.job_id is not None
    assert wait_for_job(qtbot, window, sessions.job_id) == "succeeded"
    window.jobs.poll()

    run = _run_row(demo_db, sessions.run_name)
    assert run.model_name == ORACLE
    assert run.setting == "rejection-aware"
    assert run.status == "finished"
    assert run.job_id == sessions.job_id
    assert "succeeded" in dialog.progress.title.text()
    assert dialog.progress.bar.value() == dialog.progress.bar.maximum() > 0

    comparison = window.research.comparison
    comparison.show_runs([run.name])
    settle_tasks(comparison)
    metrics = run_metrics(demo_db, run.id)
    closed = metrics["closed"]
    table = comparison.panel.table
    low, high = closed["overall"]["ci95"]
    assert table.text(run.name, "accuracy") == (
        f"{100 * closed['overall']['accuracy']:.1f}% [{100 * low:.1f}, {100 * high:.1f}]")
    assert table.text(run.name, "trap") == f"{100 * closed['trap']['accuracy']:.1f}%"
    assert table.text(run.name, "unparsed") == f"{100 * closed['unparsed_rate']['rate']:.1f}%"
    # The oracle answers size, shape, spread and location from the demo mask's own semantics.
    for question_type in ("size", "shape", "spread", "location"):
        assert table.text(run.name, f"type:{question_type}") == "100.0%"
    assert closed["overall"]["total"] == sum(group["total"] for group in closed["by_type"].values())


def test_cancelled_session_resumes(qtbot, research_window, demo_db):
    window = research_window(demo_db)
    dialog = _open_dialog(window)
    dialog.limit.setValue(10)
    dialog.start_button.click()
    settle_tasks(window.research.sessions)
    sessions = window.research.sessions
    job_id, name = sessions.job_id, sessions.run_name
    assert name.endswith("/limit10")
    assert window.jobs.status(job_id).state == "queued"

    qtbot.mouseClick(dialog.progress.cancel_button, Qt.MouseButton.LeftButton)
    assert queue.get_job(demo_db, job_id).state == "cancelled"
    window.jobs.poll()
    assert dialog.progress.resume_button.isEnabled()
    assert not dialog.progress.cancel_button.isEnabled()
    settle_tasks(sessions)
    assert [dialog.resumable.itemText(i) for i in range(dialog.resumable.count())] == [name]

    qtbot.mouseClick(dialog.progress.resume_button, Qt.MouseButton.LeftButton)
    settle_tasks(sessions)
    assert sessions.job_id == job_id  # the cancelled job is queued again, not a new one
    assert queue.get_job(demo_db, job_id).state == "queued"
    assert run_queued_jobs(window) == [(job_id, "succeeded")]
    with demo_db.session() as session:
        answers = session.scalar(select(func.count()).select_from(Answer)
                                 .join(Run, Run.id == Answer.run_id).where(Run.name == name))
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.kind == "bench.run"))
    assert answers == 10
    assert jobs == 1
    assert _run_row(demo_db, name).status == "finished"


def test_resume_of_unfinished_run_by_name(qtbot, research_window, demo_db):
    from engine.bench.runs import RunSpec, create_run

    run_id = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model="baseline:random",
                                         limit=5, name="never-started"))
    window = research_window(demo_db)
    dialog = _open_dialog(window)
    assert dialog.resumable.currentText() == "never-started"
    dialog.resume_button.click()
    settle_tasks(window.research.sessions)
    job = queue.get_job(demo_db, window.research.sessions.job_id)
    assert job.params == {"run_id": run_id, "run": "never-started"}
    assert run_queued_jobs(window) == [(job.id, "succeeded")]


def test_session_error_shown_in_dialog(qtbot, research_window, demo_db):
    from engine.bench.runs import RunSpec, create_run

    create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model=ORACLE, name="taken"))
    window = research_window(demo_db)
    dialog = _open_dialog(window)
    dialog.name.setText("taken")
    dialog.start_button.click()
    settle_tasks(window.research.sessions)
    assert dialog.error.text() == ("run name 'taken' is already used; choose another --name or "
                                   "delete that run with 'neuroonco bench delete-run taken'")
    with demo_db.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert window.research.sessions.job_id is None
