"""Training-monitor actions in the window: merge a checkpoint (optionally to GGUF) and resume a
cancelled run, each on a real tiny training run."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app_data import demo_db, demo_template  # noqa: F401
from engine.finetune import runs
from engine.finetune.checkpoints import checkpoint_path, latest_checkpoint
from engine.finetune.launching import start_training
from engine.finetune.monitoring import read_metrics
from engine.finetune.training import run_training
from engine.inference.registry import get_model
from finetune_fixtures import fast_config, kill_training, tiny_db, tiny_models, training_set  # noqa: F401
from qt_events import delete_closed_widgets, show_widget  # noqa: F401
from research_fixtures import research_window, settle_tasks  # noqa: F401
from window_fixtures import app_settings, make_window, settings_path  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.slow]

TRAINING_TIMEOUT_MS = 240_000
SNAPSHOT_TIMEOUT_MS = 30_000




def _train(db, training_set, tmp_path, name: str):  # noqa: F811
    """Train a three-step run in this process, with checkpoints at steps 2 and 3, and return its RunInfo."""
    run = runs.create_run(db, fast_config(training_set, name, tmp_path, epochs=1.0))
    assert run_training(db, run.id).status == "finished"
    return runs.get_run(db, run.id)


def _follow(qtbot, finetune, run_id: int, checkpoints: int) -> None:
    """Show run ``run_id`` in the monitor and wait until its checkpoint table is filled."""
    finetune.follow(run_id)
    qtbot.waitUntil(lambda: finetune.monitor._table.rowCount() == checkpoints, timeout=SNAPSHOT_TIMEOUT_MS)


def _merge_from_monitor(qtbot, window, finetune, step: int, folder: Path) -> None:
    """Select checkpoint ``step``, click "Merge into base…" and choose ``folder`` in the file dialog."""
    finetune.monitor.select_checkpoint(step)
    assert finetune.monitor._merge.isEnabled()
    qtbot.mouseClick(finetune.monitor._merge, Qt.MouseButton.LeftButton)
    [dialog] = [child for child in window.findChildren(QFileDialog) if child.isVisible()]
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    dialog.selectFile(str(folder))
    dialog.accept()
    settle_tasks(finetune)


def _lora_update(adapter: Path, layer: str, scale: float):
    """Return scale x B A of ``layer`` in the adapter folder ``adapter``."""
    from safetensors.torch import load_file

    weights = load_file(adapter / "adapter_model.safetensors")
    prefix = f"base_model.model.{layer}"
    return scale * weights[f"{prefix}.lora_B.weight"] @ weights[f"{prefix}.lora_A.weight"]


def _state_dict(folder) -> dict:
    """Return the fp32 weights of the model in ``folder``, named as the loaded model names them."""
    import torch
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).state_dict()


def test_monitor_merge_writes_model(qtbot, research_window, tiny_db, training_set, tmp_path):  # noqa: F811
    import torch

    run = _train(tiny_db, training_set, tmp_path, "merge-run")
    window = research_window(tiny_db)
    finetune = window.research.finetune
    _follow(qtbot, finetune, run.id, checkpoints=2)
    assert not finetune.monitor._merge_gguf.isChecked()

    out = tmp_path / "merged-step2"
    _merge_from_monitor(qtbot, window, finetune, 2, out)
    assert window.statusBar().currentMessage() == f"Merged model saved to {out}."
    assert (out / "config.json").is_file()
    assert (out / "model.safetensors").is_file()
    assert (out / "tokenizer.json").is_file()
    assert (out / "processor_config.json").is_file()
    assert list(out.glob("*.gguf")) == []
    assert not out.with_name(f".{out.name}.partial").exists()

    # The merged weights are the base plus the update of the step-2 adapter, not another step's.
    base = _state_dict(get_model(tiny_db, "tiny-llava").path)
    merged = _state_dict(out)
    layer = "model.language_model.layers.0.self_attn.q_proj"
    scale = run.settings.lora_alpha / run.settings.lora_rank
    step_2 = _lora_update(checkpoint_path(run.output_dir, 2) / "adapter", layer, scale)
    step_3 = _lora_update(checkpoint_path(run.output_dir, 3) / "adapter", layer, scale)
    assert not torch.allclose(step_2, step_3)
    torch.testing.assert_close(merged[f"{layer}.weight"], base[f"{layer}.weight"] + step_2, rtol=0, atol=1e-6)
    untouched = "model.language_model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(merged[untouched], base[untouched])

    # Merging into the folder again fails with the engine's message and leaves it as it was.
    written = sorted(path.name for path in out.iterdir())
    finetune.merge(2, str(out))
    settle_tasks(finetune)
    assert window.statusBar().currentMessage() == f"output folder {out} is not empty; choose a new folder"
    assert sorted(path.name for path in out.iterdir()) == written


def test_monitor_merge_writes_gguf(qtbot, research_window, tiny_db, training_set, tmp_path):  # noqa: F811
    from engine.errors import WorkbenchError
    from engine.inference.gguf_convert import converter_dir

    try:
        converter_dir()
    except WorkbenchError as error:
        pytest.skip(str(error))
    from gguf import GGUFReader

    run = _train(tiny_db, training_set, tmp_path, "gguf-run")
    window = research_window(tiny_db)
    finetune = window.research.finetune
    _follow(qtbot, finetune, run.id, checkpoints=2)
    # The tiny tokenizer was trained locally, so llama.cpp's converter needs the GPT-2 splitting rule.
    finetune.gguf_pre_tokenizer = "gpt-2"
    finetune.monitor._merge_gguf.setChecked(True)

    out = tmp_path / "merged-gguf"
    _merge_from_monitor(qtbot, window, finetune, 3, out)
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Merged model saved to {out}. GGUF: model-f16.gguf"), message
    assert (out / "config.json").is_file()
    text_model = out / "model-f16.gguf"
    reader = GGUFReader(text_model)
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == "llama"
    assert any(tensor.name == "blk.0.attn_q.weight" for tensor in reader.tensors)
    converted = sorted(path.name for path in out.glob("*.gguf"))
    assert message.endswith(f"GGUF: {', '.join(converted)}.")


def test_resume_button_finishes_run(qtbot, research_window, tiny_db, training_set, tmp_path):  # noqa: F811
    # Enough steps that the run cannot finish between its first logged loss and the cancel,
    # which on an idle machine took under a second for 36 steps.
    config = fast_config(training_set, "resumed", tmp_path, epochs=120.0, save_steps=50)
    run = start_training(tiny_db, config)
    try:
        window = research_window(tiny_db)
        finetune = window.research.finetune
        monitor = finetune.monitor
        finetune.follow(run.id)
        qtbot.waitUntil(lambda: bool(monitor.curve_data()["loss"][0]), timeout=TRAINING_TIMEOUT_MS)
        qtbot.mouseClick(monitor._cancel, Qt.MouseButton.LeftButton)
        settle_tasks(finetune)
        qtbot.waitUntil(lambda: finetune.snapshot.run.status in runs.FINAL, timeout=TRAINING_TIMEOUT_MS)

        cancelled = runs.get_run(tiny_db, run.id)
        assert cancelled.status == runs.CANCELLED, cancelled.message
        stop = cancelled.step
        assert 0 < stop < cancelled.total_steps
        assert latest_checkpoint(config.output_dir).step == stop
        before = read_metrics(tiny_db, run.id)
        assert [point.step for point in before] == list(range(1, stop + 1))
        assert monitor._resume.isEnabled()

        qtbot.mouseClick(monitor._resume, Qt.MouseButton.LeftButton)
        settle_tasks(finetune)
        assert runs.get_run(tiny_db, run.id).status in runs.ACTIVE
        assert window.statusBar().currentMessage().startswith("Started training run resumed")
        qtbot.waitUntil(lambda: finetune.snapshot.run.status == runs.RUNNING, timeout=TRAINING_TIMEOUT_MS)
        assert not monitor._resume.isEnabled()
        assert monitor._cancel.isEnabled()
        qtbot.waitUntil(lambda: finetune.snapshot.run.status in runs.FINAL, timeout=TRAINING_TIMEOUT_MS)
    finally:
        kill_training(tiny_db, "resumed")

    final = runs.get_run(tiny_db, run.id)
    assert final.status == runs.SUCCEEDED, final.message
    assert final.step == final.total_steps == cancelled.total_steps
    assert f"at step {stop} of {final.total_steps}" in final.log_path.read_text()
    assert window.statusBar().currentMessage().startswith("Training run resumed succeeded")

    # Rows up to the checkpoint are those of the first attempt, and the resumed attempt added the rest.
    after = read_metrics(tiny_db, run.id)
    assert [point.step for point in after] == list(range(1, final.total_steps + 1))
    assert [(point.id, point.loss) for point in after[:stop]] == [(point.id, point.loss) for point in before]
    assert min(point.id for point in after[stop:]) > max(point.id for point in before)
    assert all(point.loss is not None for point in after)
    assert monitor.curve_data()["loss"][0] == list(range(1, final.total_steps + 1))
    assert monitor._progress.value() == final.total_steps
