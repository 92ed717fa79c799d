"""Fine-tuning from the window: a tiny training started from the dialog and followed to its end,
checkpoint registration, the post-training benchmark, and re-attaching after a restart."""

from __future__ import annotations


import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from app_data import demo_db, demo_template  # noqa: F401
from db.models import Job, Run
from engine.demo import DEMO_BENCHMARK
from engine.finetune import runs
from engine.finetune.launching import start_training
from engine.finetune.monitoring import read_checkpoints, read_metrics
from engine.inference.registry import get_model
from finetune_fixtures import fast_config, kill_training, tiny_db, tiny_models, training_set  # noqa: F401
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, settle_tasks  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.slow]

TRAINING_TIMEOUT_MS = 240_000




def test_dialog_starts_training_followed_to_end(qtbot, research_window, tiny_db, training_set, tmp_path):  # noqa: F811
    window = research_window(tiny_db)
    finetune = window.research.finetune
    finetune.open_dialog()
    settle_tasks(finetune)
    dialog = finetune.dialog
    assert dialog is not None
    dialog.set_config(fast_config(training_set, "gui-run", tmp_path))
    assert dialog._start_button.isEnabled(), dialog.issues()
    try:
        qtbot.mouseClick(dialog._start_button, Qt.MouseButton.LeftButton)
        settle_tasks(finetune)
        run = runs.get_run(tiny_db, "gui-run")
        assert finetune.run_id == run.id
        assert finetune.dock.isVisible()
        qtbot.waitUntil(lambda: finetune.snapshot is not None and finetune.snapshot.run.status in runs.FINAL,
                        timeout=TRAINING_TIMEOUT_MS)
    finally:
        kill_training(tiny_db, "gui-run")

    final = runs.get_run(tiny_db, "gui-run")
    assert final.status == runs.SUCCEEDED, final.message
    curves = finetune.monitor.curve_data()
    steps = [point.step for point in read_metrics(tiny_db, final.id) if point.loss is not None]
    assert curves["loss"][0] == steps
    assert curves["learning_rate"][0] == steps
    assert steps[-1] == final.total_steps
    assert finetune.monitor._progress.value() == final.total_steps
    checkpoints = read_checkpoints(tiny_db, final.id)
    assert finetune.monitor._table.rowCount() == len(checkpoints) > 0
    assert "gui-run" in finetune.run_box.currentText()
    assert finetune.monitor._log.toPlainText()

    # Register the last checkpoint as an adapter of the base model.
    step = checkpoints[-1].step
    finetune.monitor.select_checkpoint(step)
    finetune.register(step, "gui-adapter")
    settle_tasks(finetune)
    assert [adapter.name for adapter in get_model(tiny_db, "tiny-llava").adapters] == ["gui-adapter"]
    qtbot.waitUntil(lambda: finetune.monitor._table.item(len(checkpoints) - 1, 2).text() == "gui-adapter",
                    timeout=10_000)

    # The post-training benchmark creates the base and adapter sessions with the engine's calls.
    post_training = window.research.post_training
    post_training.ask()
    settle_tasks(post_training)
    from widgets.post_training_dialog import PostTrainingDialog

    [post] = [child for child in window.findChildren(PostTrainingDialog) if child.isVisible()]
    assert [post.adapter.itemText(i) for i in range(post.adapter.count())] == ["gui-adapter"]
    post.benchmark.setCurrentText(DEMO_BENCHMARK)
    post.limit.setValue(4)
    post.start_button.click()
    settle_tasks(post_training)
    with tiny_db.session() as session:
        names = sorted(session.scalars(select(Run.name)))
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.kind == "bench.run"))
    assert post.error.text() == ""
    assert names == ["gui-run-base", "gui-run-gui-adapter"]
    assert jobs == 2


def test_restarted_window_reattaches(qtbot, research_window, tiny_db, training_set, tmp_path):  # noqa: F811
    config = fast_config(training_set, "long-run", tmp_path, epochs=60.0, save_steps=5)
    try:
        run = start_training(tiny_db, config)
        first = research_window(tiny_db)
        first.close()

        window = research_window(tiny_db, reattach=True)
        finetune = window.research.finetune
        settle_tasks(finetune)
        assert finetune.run_id == run.id
        assert finetune.dock.isVisible()
        assert "Re-attached to running training: long-run" in window.statusBar().currentMessage()
        qtbot.waitUntil(lambda: bool(finetune.monitor.curve_data()["loss"][0]), timeout=TRAINING_TIMEOUT_MS)

        qtbot.mouseClick(finetune.monitor._cancel, Qt.MouseButton.LeftButton)
        settle_tasks(finetune)
        assert runs.get_run(tiny_db, run.id).cancel_requested
        qtbot.waitUntil(lambda: finetune.snapshot.run.status in runs.FINAL, timeout=TRAINING_TIMEOUT_MS)
    finally:
        kill_training(tiny_db, "long-run")
    assert runs.get_run(tiny_db, run.id).status == runs.CANCELLED
    assert finetune.monitor._resume.isEnabled()
