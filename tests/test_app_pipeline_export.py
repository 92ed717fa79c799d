"""The pipeline dialog runs the export stage and the model stages (with recorded replies)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from db.models import PipelineRun, SilverLabel
from engine.jobs import queue
from engine.pipeline.export_benchmark import CLOSED_FILE, STATS_FILE
from engine.pipeline.export_instructions import DATASET_INFO
from engine.pipeline.runs import read_stats
from engine.pipeline.samples import load_samples
from pipeline_data import build_mm_tree
from pipeline_replies import write_replay_plan
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, run_queued_jobs, settle_tasks  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path  # noqa: F401

pytestmark = pytest.mark.gui

COUNTS = {"glioma": 4, "meningioma": 3, "pituitary": 2, "healthy": 3}
DATASET = "mm2d"


@pytest.fixture
def mm_db(db, tmp_path, mricron):
    """The test database with a small 2D dataset of Colin27 slices."""
    build_mm_tree(db, tmp_path / "mm", mricron, COUNTS, name=DATASET)
    return db


def _new_run(window, name: str, stages: list[str]):  # noqa: ANN001, ANN202
    pipeline = window.research.pipeline
    dialog = pipeline.open_dialog()
    settle_tasks(pipeline)
    dialog.name.setText(name)
    dialog.dataset.setCurrentText(DATASET)
    dialog.benchmark_share.setValue(0.4)
    dialog.set_stages(stages)
    return pipeline, dialog


def _run_id(db, name: str) -> int:  # noqa: ANN001
    with db.session() as session:
        return session.scalar(select(PipelineRun.id).where(PipelineRun.name == name))


def test_export_stage_writes_files_and_counts(qtbot, research_window, mm_db, tmp_path):
    window = research_window(mm_db)
    stages = ["description", "generate", "split", "export"]
    pipeline, dialog = _new_run(window, "gui-export", stages)
    out = tmp_path / "export"
    dialog.out.setText(str(out))
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    settle_tasks(pipeline)

    job = queue.get_job(mm_db, pipeline.job_id)
    assert job.params == {"run": "gui-export", "stages": stages, "out": str(out)}
    assert run_queued_jobs(window) == [(job.id, "succeeded")]
    settle_tasks(pipeline)

    assert (out / "benchmark" / CLOSED_FILE).is_file()
    assert (out / "instructions" / DATASET_INFO).is_file()
    written = json.loads((out / "benchmark" / STATS_FILE).read_text())
    export = read_stats(mm_db, _run_id(mm_db, "gui-export"))["export"]
    files = export["instructions"]["files"]
    for kind, count in files.items():
        path = out / "instructions" / f"instruction_{kind.replace('-', '_')}_train.jsonl"
        assert len(path.read_text().splitlines()) == count, kind

    text = dialog.stats.stage_text("export")
    assert (f"train instructions (closed {files['closed']}, closed-cot {files['closed-cot']}, "
            f"open {files['open']})") in text
    assert (f"benchmark of {written['items']} items, {written['questions']} closed and "
            f"{written['open_questions']} open questions") in text
    assert str(out) in text
    assert "succeeded" in dialog.progress.title.text()
    assert dialog.error.text() == ""


def test_model_stages_with_replies_store_labels(qtbot, research_window, mm_db, tmp_path):
    with mm_db.session() as session:
        samples = load_samples(session, DATASET)
    plan = write_replay_plan(samples, tmp_path / "replies")
    window = research_window(mm_db)
    stages = ["description", "extract-a", "extract-b", "fuse", "audit"]
    pipeline, dialog = _new_run(window, "gui-models", stages)
    for role, name in (("run_a", "a"), ("run_b", "b"), ("audit", "audit")):
        dialog.models[role].setEditText(plan.model(name))
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    settle_tasks(pipeline)

    job = queue.get_job(mm_db, pipeline.job_id)
    assert job.params == {"run": "gui-models", "stages": stages, "out": None}
    assert run_queued_jobs(window) == [(job.id, "succeeded")]
    settle_tasks(pipeline)

    run_id = _run_id(mm_db, "gui-models")
    with mm_db.session() as session:
        config = session.get(PipelineRun, run_id).config
        stored = dict(session.execute(
            select(SilverLabel.stage + ":" + SilverLabel.status, func.count())
            .where(SilverLabel.pipeline_run_id == run_id)
            .group_by(SilverLabel.stage, SilverLabel.status)).all())
    assert config["models"]["run_a"] == plan.model("a")
    assert config["models"]["audit"] == plan.model("audit")
    assert stored == {
        "run_a:ok": len(samples), "run_b:ok": len(samples),
        "fused:kept": len(plan.audited), "fused:healthy": len(plan.healthy), "fused:dropped": 1,
        "audited:accepted": len(plan.accepted) + 1, "audited:rejected": 1}

    view = dialog.stats
    assert view.stage_text("audit").startswith(
        f"{{'accepted': {len(plan.accepted) + 1}, 'rejected': 1}}, AIR ")
    assert view.stage_text("fuse").startswith(
        f"kept {len(plan.audited)}, healthy {len(plan.healthy)}, dropped 1")
    assert [view.air.item(row, 0).text() for row in range(view.air.rowCount())] == [
        "run_a", "run_b", "fused", "audited"]
    assert view.stage_text("generate") == "not run"
