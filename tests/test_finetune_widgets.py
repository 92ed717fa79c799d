"""The fine-tune dialog and the training monitor (offscreen Qt)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytest.importorskip("pytestqt")

from engine.finetune.command import command_line  # noqa: E402
from engine.finetune.config import DatasetSpec, FineTuneConfig  # noqa: E402
from engine.finetune.estimate import ModelFacts, estimate  # noqa: E402
from engine.finetune.records import CheckpointEntry, MetricPoint, RunInfo, RunSnapshot  # noqa: E402
from engine.finetune.validation import Environment, InstructionSetChoice, ModelChoice  # noqa: E402

pytestmark = pytest.mark.gui

MODELS = [ModelChoice("tiny-llava", "transformers", "/models/tiny"), ModelChoice("qwen-gguf", "llama.cpp", "/q.gguf")]
SETS = [InstructionSetChoice("pipe-1", "train", 120)]


@pytest.fixture
def dialog(qtbot, tmp_path):
    from widgets.finetune_dialog import FineTuneDialog

    data = tmp_path / "train.jsonl"
    data.write_text("{}\n")
    config = FineTuneConfig(run_name="glioma-1", base_model="tiny-llava", datasets=(DatasetSpec("jsonl", str(data)),),
                            precision="fp32", device="cpu")
    widget = FineTuneDialog(MODELS, SETS, Environment(), run_names=frozenset({"taken"}), config=config)
    qtbot.addWidget(widget)
    return widget


def test_dialog_offers_transformers_models_only(dialog):
    from PySide6.QtWidgets import QComboBox

    combo = dialog.findChild(QComboBox, "base_model")
    assert [combo.itemText(i) for i in range(combo.count())] == ["tiny-llava"]


def test_dialog_valid_config_starts(dialog, qtbot):
    start = dialog.findChild(type(dialog._start_button), "start")
    assert start.isEnabled()
    assert dialog.issues() == []
    assert dialog.command_text() == command_line(dialog.config())
    with qtbot.waitSignal(dialog.startRequested, timeout=1000) as signal:
        start.click()
    assert signal.args[0].run_name == "glioma-1"
    assert signal.args[0].target_modules == ("q_proj", "v_proj")


@pytest.mark.parametrize("field, value, expected", [
    ("run_name", "two words", "run name 'two words' may only contain letters"),
    ("run_name", "taken", "a training run named 'taken' already exists"),
    ("lora_rank", 0, "rank 0 is outside 1 to 1024"),
    ("lora_dropout", 1.0, "dropout 1.0 must be in [0, 1)"),
    ("learning_rate", "fast", "'fast' is not a number"),
    ("learning_rate", "2", "learning rate 2.0 is outside (0, 1]"),
    ("method", "qlora", "QLoRA loads the base model in 4 bits with bitsandbytes, which needs a CUDA GPU"),
    ("batch_size", 0, "batch size 0 must be 1 or more"),
    ("val_split", 0.9, "validation split 0.9 is outside 0 to 0.5"),
    ("max_length", 8, "maximum length 8 must be at least 16 tokens"),
    ("gpus", 2, "2 GPUs requested but this machine has 0"),
    ("target_modules", "", "no target modules"),
    ("image_root", "/nowhere/images", "image folder /nowhere/images does not exist"),
])
def test_dialog_rejects_invalid_field(dialog, qtbot, field, value, expected):
    editor = dialog._editors[field]
    if field == "gpus":
        dialog._editors["device"].setCurrentText("auto")
    if isinstance(value, str) and hasattr(editor, "setText"):
        editor.setText(value)
    elif hasattr(editor, "setCurrentText"):
        editor.setCurrentText(value)
    else:
        editor.setValue(value)
    assert expected in dialog.field_message(field)
    assert not dialog._start_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.startRequested):
        dialog._start_button.click()
    assert dialog.field_message("batch_size" if field != "batch_size" else "seed") == ""


def test_dialog_requires_data(qtbot):
    from widgets.finetune_dialog import FineTuneDialog

    empty = FineTuneDialog(MODELS, SETS, Environment(), config=FineTuneConfig(run_name="a", precision="fp32"))
    qtbot.addWidget(empty)
    assert "no training data chosen" in empty.field_message("datasets")
    item = empty._datasets.item(0)
    from PySide6.QtCore import Qt

    item.setCheckState(Qt.CheckState.Checked)
    assert empty.field_message("datasets") == ""
    assert empty.config().datasets == (DatasetSpec("database", pipeline_run="pipe-1", split="train"),)
    assert "--dataset db:pipe-1:train" in empty.command_text()


def test_dialog_target_preset(dialog):
    dialog._target_preset.setCurrentText("All linear layers")
    assert dialog.config().target_modules == ("all-linear",)
    dialog._editors["target_modules"].setText("q_proj,k_proj")
    assert dialog._target_preset.currentText() == "Custom"


def test_dialog_round_trips_config(dialog, tmp_path):
    data = tmp_path / "more.jsonl"
    # The dialog lists instruction sets before files, so this order survives the round trip.
    config = FineTuneConfig(run_name="second", base_model="tiny-llava", datasets=(
                            DatasetSpec("database", pipeline_run="pipe-1"), DatasetSpec("jsonl", str(data))),
                            learning_rate=3e-5, epochs=2.5,
                            freeze_projector=False, lora_rank=16, lora_alpha=32.0, scheduler="linear", seed=7)
    dialog.set_config(config)
    shown = dialog.config()
    assert shown.to_dict() == config.to_dict()


def test_dialog_requests_and_shows_plan(dialog, qtbot):
    from engine.finetune.planning import RunPlan

    with qtbot.waitSignal(dialog.planRequested, timeout=3000) as signal:
        dialog._editors["epochs"].setValue(3.0)
    config = signal.args[0]
    assert config.epochs == 3.0
    facts = ModelFacts(parameters=2_000_000_000, hidden_size=2048, layers=24, heads=16, kv_heads=8,
                       intermediate_size=8192, vocab_size=150_000, head_dim=128)
    result = estimate(config, facts, train_samples=400, mean_tokens=600.0, device="cuda")
    dialog.show_plan(RunPlan(config, (), command_line(config), 400, 20, 600.0, result))
    text = dialog.findChild(type(dialog._estimate), "estimate").text()
    assert "400 training and 20 validation samples" in text
    assert "estimated memory per process" in text
    assert "an estimate" in text
    dialog.show_plan(RunPlan(config, (), "", problems=("image x.png does not exist",)))
    assert "Estimate unavailable: image x.png does not exist" in dialog._estimate.text()


def _run(run_id=1, status="running", step=3, cancel=False) -> RunInfo:
    now = datetime.now(timezone.utc)
    return RunInfo(id=run_id, name=f"run-{run_id}", status=status, base_model="tiny-llava", base_model_id=1,
                   config={}, output_dir="/tmp/run", pid=1, hostname="h", step=step, total_steps=10,
                   message="training", cancel_requested=cancel, created_at=now, started_at=now,
                   finished_at=None)


def _points(steps):
    return [MetricPoint(id=step, step=step, epoch=step / 5, loss=5.0 - step * 0.1,
                        learning_rate=1e-4 * step, val_loss=4.5 if step % 2 == 0 else None,
                        samples_per_second=3.0, gpu_memory_mb=None) for step in steps]


@pytest.fixture
def monitor(qtbot):
    from widgets.training_monitor import TrainingMonitor

    widget = TrainingMonitor()
    qtbot.addWidget(widget)
    return widget


def test_monitor_draws_curves_and_progress(monitor):
    checkpoints = [CheckpointEntry(1, 2, "/tmp/run/step-2", 4.5), CheckpointEntry(2, 4, "/tmp/run/step-4", 4.1, ("a",))]
    monitor.apply_snapshot(RunSnapshot(_run(step=3), _points([1, 2, 3]), checkpoints, "line 1\nline 2", 125.0, 3))
    data = monitor.curve_data()
    assert data["loss"] == ([1, 2, 3], [4.9, 4.8, 4.7])
    assert data["val_loss"] == ([2], [4.5])
    assert data["learning_rate"][1] == pytest.approx([1e-4, 2e-4, 3e-4])
    assert monitor._progress.value() == 3
    assert monitor._progress.maximum() == 10
    assert monitor._eta.text() == "about 2 min 05 s left"
    assert monitor._log.toPlainText() == "line 1\nline 2"
    assert monitor._table.rowCount() == 2
    assert monitor._table.item(1, 1).text() == "4.1000"
    assert monitor._table.item(1, 2).text() == "a"

    monitor.add_metrics(_points([4]))
    assert monitor.curve_data()["loss"][0] == [1, 2, 3, 4]
    monitor.show_run(_run(run_id=2))
    assert monitor.curve_data()["loss"] == ([], [])  # another run starts from empty curves


def test_monitor_buttons_emit_steps(monitor, qtbot):
    monitor.apply_snapshot(RunSnapshot(_run(status="cancelled"), [], [CheckpointEntry(1, 2, "/c2", 4.5),
                                                                    CheckpointEntry(2, 4, "/c4", None)], "", None, 0))
    assert not monitor._register.isEnabled()
    assert not monitor._cancel.isEnabled()
    assert monitor._resume.isEnabled()
    monitor.select_checkpoint(4)
    with qtbot.waitSignal(monitor.registerRequested, timeout=1000) as registered:
        monitor._register.click()
    assert registered.args == [4]
    with qtbot.waitSignal(monitor.mergeRequested, timeout=1000) as merged:
        monitor._merge.click()
    assert merged.args == [4, False]
    monitor._merge_gguf.setChecked(True)
    with qtbot.waitSignal(monitor.mergeRequested, timeout=1000) as merged_gguf:
        monitor._merge.click()
    assert merged_gguf.args == [4, True]
    assert monitor._table.item(1, 1).text() == "-"


def test_monitor_cancel_state(monitor, qtbot):
    monitor.show_run(_run(status="running"))
    assert monitor._cancel.isEnabled()
    with qtbot.waitSignal(monitor.cancelRequested, timeout=1000):
        monitor._cancel.click()
    monitor.show_run(_run(status="running", cancel=True))
    assert not monitor._cancel.isEnabled()
    assert monitor._status.text().startswith("cancelling")
