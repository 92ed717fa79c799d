"""The pipeline dialog (stages as jobs, results) and silver-label review in the viewer."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app_data import demo_db, demo_template  # noqa: F401
from db.models import PipelineRun, Review, SilverLabel
from engine.demo import DEMO_DATASET, DEMO_PIPELINE_RUN
from engine.jobs import queue
from engine.pipeline.quality import review_quality
from engine.pipeline.runs import read_stats
from engine.pipeline.vocabulary import empty_fields
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, run_queued_jobs, settle_tasks  # noqa: F401
from window_fixtures import app_settings, make_window, open_demo, settings_path  # noqa: F401

pytestmark = pytest.mark.gui

RUN = "gui-pipeline"


def _pipeline_dialog(window):
    pipeline = window.research.pipeline
    dialog = pipeline.open_dialog()
    settle_tasks(pipeline)
    return pipeline, dialog


def test_model_free_stages_run_as_job(qtbot, research_window, demo_db):
    window = research_window(demo_db)
    pipeline, dialog = _pipeline_dialog(window)
    assert DEMO_PIPELINE_RUN in [dialog.existing.itemText(i) for i in range(dialog.existing.count())]
    dialog.name.setText(RUN)
    dialog.dataset.setCurrentText(DEMO_DATASET)
    dialog.seed.setValue(3)
    dialog.trap_share.setValue(0.25)
    dialog.set_stages(["description", "generate", "split"])
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    settle_tasks(pipeline)

    job = queue.get_job(demo_db, pipeline.job_id)
    assert job.kind == "pipeline.run"
    assert job.params == {"run": RUN, "stages": ["description", "generate", "split"], "out": None}
    with demo_db.session() as session:
        run = session.scalar(select(PipelineRun).where(PipelineRun.name == RUN))
        assert run.config["seed"] == 3
        assert run.config["trap_share"] == 0.25
        run_id = run.id
    assert dialog.progress.job_id == job.id

    assert run_queued_jobs(window) == [(job.id, "succeeded")]
    settle_tasks(pipeline)
    stats = read_stats(demo_db, run_id)
    view = dialog.stats
    assert view.stage_text("description").startswith(f"{stats['description']['samples']} slices described")
    assert f"{stats['generate']['traps']} traps of" in view.stage_text("generate")
    assert view.stage_text("split") == f"cases {stats['split']['cases']}, slices {stats['split']['slices']}"
    assert view.stage_text("extract-a") == "not run"
    assert RUN in view.title.text()
    assert "succeeded" in dialog.progress.title.text()


def test_model_stage_failure_shows_engine_error(qtbot, research_window, demo_db):
    window = research_window(demo_db)
    pipeline, dialog = _pipeline_dialog(window)
    dialog.show_run(DEMO_PIPELINE_RUN)
    settle_tasks(pipeline)
    assert dialog.name.text() == DEMO_PIPELINE_RUN
    dialog.set_stages(["extract-a"])
    dialog.run_button.click()
    settle_tasks(pipeline)
    [(job_id, state)] = run_queued_jobs(window)
    assert state == "failed"
    message = queue.get_job(demo_db, job_id).message
    assert message
    assert dialog.error.text() == message
    assert dialog.progress.resume_button.isEnabled()


def test_export_stage_needs_folder(research_window, demo_db):
    window = research_window(demo_db)
    pipeline, dialog = _pipeline_dialog(window)
    dialog.dataset.setCurrentText(DEMO_DATASET)
    dialog.set_stages(["export"])
    dialog.run_button.click()
    settle_tasks(pipeline)
    assert dialog.error.text() == "The export stage needs an output folder."
    assert pipeline.job_id is None


# ---------------------------------------------------------------- silver-label review

def _add_labels(db, slice_id: int) -> dict[str, int]:
    """Store run A, fused and audited labels of ``slice_id`` in the demo pipeline run."""
    labels = {
        "run_a": dict(empty_fields(), lesion_found=True, modality="T1", location="Center",
                      shape="Irregular", margins="Ill-defined"),
        "fused": dict(empty_fields(), lesion_found=True, modality="T1", location="Center",
                      shape="Irregular"),
        "audited": dict(empty_fields(), lesion_found=True, modality="T1", location="Center",
                        shape="Irregular/Lobulated"),
    }
    ids = {}
    with db.session(write=True) as session:
        run_id = session.scalar(select(PipelineRun.id).where(PipelineRun.name == DEMO_PIPELINE_RUN))
        for stage, fields in labels.items():
            label = SilverLabel(pipeline_run_id=run_id, slice_id=slice_id, stage=stage,
                                status="ok", fields=fields, model_name="replay")
            session.add(label)
            session.flush()
            ids[stage] = label.id
    return ids


def _reviews(db) -> list[tuple]:
    with db.session() as session:
        return [tuple(row) for row in session.execute(
            select(Review.target, Review.silver_label_id, Review.field, Review.verdict,
                   Review.corrected_label, Review.reviewer).order_by(Review.id))]


def test_silver_label_review_with_keys(qtbot, research_window, demo_db, app_settings):
    app_settings.set_reviewer("ana")
    window = research_window(demo_db)
    open_demo(qtbot, window)
    ids = _add_labels(demo_db, window.case.slice_id)
    silver = window.research.silver_labels
    qtbot.keyClick(window.browser.tree.view, Qt.Key.Key_L,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    panel = silver.panel
    assert silver.dock.isVisible()
    assert panel.run.currentText() == DEMO_PIPELINE_RUN
    assert panel.stage.currentText() == "audited"
    assert panel.cell_text("shape", "run_a") == "Irregular"
    assert panel.cell_text("shape", "audited") == "Irregular/Lobulated"
    assert panel.cell_text("margins", "fused") == ""

    table = panel.table
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    qtbot.keyClick(table, Qt.Key.Key_Y)                       # lesion_found: accept
    assert panel.current_field() == "modality"
    qtbot.keyClick(table, Qt.Key.Key_U)                       # modality: correct to FLAIR
    assert panel.correction.hasFocus()
    panel.correction.setCurrentText("FLAIR")
    qtbot.keyClick(panel.correction, Qt.Key.Key_Return)
    assert panel.current_field() == "location"
    qtbot.keyClick(table, Qt.Key.Key_J)                       # skip location
    assert panel.current_field() == "shape"
    panel.correction.setCurrentText("(empty)")                # shape should be empty
    qtbot.keyClick(table, Qt.Key.Key_Return)
    qtbot.keyClick(table, Qt.Key.Key_K)
    assert panel.current_field() == "shape"
    assert panel.cell_text("shape", "verdict") == "should be empty"
    assert panel.cell_text("modality", "verdict") == "corrected to FLAIR"

    audited = ids["audited"]
    assert _reviews(demo_db) == [
        ("silver_label", audited, "lesion_found", "agree", None, "ana"),
        ("silver_label", audited, "modality", "disagree", "FLAIR", "ana"),
        ("silver_label", audited, "shape", "disagree", None, "ana"),
    ]
    with demo_db.session() as session:
        quality = review_quality(session, session.get(SilverLabel, audited).pipeline_run_id)
    assert quality["audited"]["all"]["correct"] == 1
    assert quality["audited"]["all"]["wrong_corrected"] == 1
    assert quality["audited"]["all"]["wrong"] == 1

    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _reviews(demo_db)[-1] == ("silver_label", audited, "shape", "withdrawn", None, "ana")
    assert panel.cell_text("shape", "verdict") == ""


def test_silver_label_review_of_other_stage(qtbot, research_window, demo_db, app_settings):
    app_settings.set_reviewer("ben")
    window = research_window(demo_db)
    open_demo(qtbot, window)
    ids = _add_labels(demo_db, window.case.slice_id)
    silver = window.research.silver_labels
    silver.open()
    panel = silver.panel
    panel.stage.setCurrentText("run_a")
    panel.select_field("margins")
    panel.correction.setCurrentText("Ill-defined")
    panel.save_correction()
    assert "correction is the stored value" in panel.status.text()
    panel.accept_button.click()
    assert _reviews(demo_db) == [("silver_label", ids["run_a"], "margins", "agree", None, "ben")]
    assert panel.cell_text("margins", "verdict") == "accepted"
