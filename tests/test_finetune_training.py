"""Training runs in this process: loss, cancel, exact resume, adapters and merging.

Runs train the tiny random LLaVA in fp32 on the CPU, where every operation is
deterministic, so a resumed run must reproduce the uninterrupted losses exactly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.finetune import runs
from engine.finetune.checkpoints import checkpoint_path, list_checkpoints
from engine.finetune.export import merge_checkpoint, register_checkpoint
from engine.finetune.monitoring import read_checkpoints, read_metrics, read_snapshot
from engine.finetune.training import run_training
from finetune_fixtures import fast_config, losses, mri_images, tiny_llava, tiny_models, training_set  # noqa: F401

pytestmark = pytest.mark.slow


def _logits(model_or_path, adapter: Path | None, image, prompt="Which sequence is this?"):
    """Return the last-position logits of the tiny LLaVA (optionally with an adapter) for one question."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_or_path)
    model = AutoModelForImageTextToText.from_pretrained(model_or_path, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[[image]], return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits[0, -1]


def _cancel_when_checkpoint_appears(db, run_id: int, folder: Path, step: int) -> threading.Thread:
    """Request cancel as soon as checkpoint ``step`` exists (the run stops a step or two later)."""
    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not folder.exists():
            time.sleep(0.005)
        runs.request_cancel(db, run_id)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_loss_falls_on_small_set(db, tiny_llava, training_set, tmp_path):
    config = fast_config(training_set, "falls", tmp_path, target_modules=("all-linear",), learning_rate=1e-2,
                         epochs=8.0, batch_size=4, gradient_accumulation=1, val_split=0.0, save_steps=100)
    run = runs.create_run(db, config)
    outcome = run_training(db, run.id)

    trajectory = losses(db, run.id)
    assert outcome.status == "finished"
    assert sorted(trajectory) == list(range(1, outcome.total_steps + 1))
    first = sum(trajectory[step] for step in (1, 2, 3)) / 3
    last = sum(trajectory[step] for step in range(outcome.total_steps - 2, outcome.total_steps + 1)) / 3
    assert last < 0.5 * first, trajectory
    finished = runs.get_run(db, run.id)
    assert finished.status == "succeeded"
    assert finished.step == outcome.total_steps
    assert [c.step for c in read_checkpoints(db, run.id)] == [outcome.total_steps]


def test_resume_reproduces_uninterrupted_losses(db, tiny_llava, training_set, tmp_path):
    # Dropout 0.1 makes the trajectory depend on the restored random number generator states.
    settings = dict(lora_dropout=0.1, epochs=3.0, save_steps=2)
    straight = runs.create_run(db, fast_config(training_set, "straight", tmp_path, **settings))
    run_training(db, straight.id)

    paused = runs.create_run(db, fast_config(training_set, "paused", tmp_path, **settings))
    watcher = _cancel_when_checkpoint_appears(db, paused.id, checkpoint_path(paused.output_dir, 2), 2)
    first = run_training(db, paused.id)
    watcher.join(timeout=30)

    assert first.status == "cancelled"
    assert 2 <= first.step < first.total_steps
    cancelled = runs.get_run(db, paused.id)
    assert cancelled.status == "cancelled"
    assert f"cancelled at step {first.step}" in cancelled.message
    assert list_checkpoints(paused.output_dir)[-1].step == first.step

    runs.prepare_resume(db, paused.id)
    second = run_training(db, paused.id)

    expected = losses(db, straight.id)
    resumed = losses(db, paused.id)
    assert second.status == "finished"
    assert sorted(resumed) == sorted(expected)
    for step in range(first.step + 1, second.total_steps + 1):
        assert resumed[step] == expected[step], (step, resumed[step], expected[step])
    expected_val = {c.step: c.val_loss for c in read_checkpoints(db, straight.id)}
    resumed_val = {c.step: c.val_loss for c in read_checkpoints(db, paused.id)}
    assert resumed_val[second.total_steps] == expected_val[second.total_steps]

    from safetensors.torch import load_file

    final = "adapter/adapter_model.safetensors"
    a = load_file(checkpoint_path(straight.output_dir, second.total_steps) / final)
    b = load_file(checkpoint_path(paused.output_dir, second.total_steps) / final)
    assert a.keys() == b.keys()
    for key in a:
        assert bool((a[key] == b[key]).all()), key


def test_cancel_leaves_loadable_checkpoint(db, tiny_llava, training_set, tmp_path, mri_images):  # noqa: F811
    config = fast_config(training_set, "cancel", tmp_path, epochs=20.0, save_steps=1000)
    run = runs.create_run(db, config)
    watcher = _cancel_when_checkpoint_appears(db, run.id, Path(run.output_dir) / "run_config.json", 0)
    outcome = run_training(db, run.id)
    watcher.join(timeout=30)

    assert outcome.status == "cancelled"
    assert outcome.step < outcome.total_steps
    checkpoints = read_checkpoints(db, run.id)
    assert [c.step for c in checkpoints] == [outcome.step]
    assert checkpoints[0].val_loss is not None
    adapter = Path(checkpoints[0].path) / "adapter"
    base = _logits(tiny_llava, None, mri_images["a"])
    tuned = _logits(tiny_llava, adapter, mri_images["a"])
    assert tuned.shape == base.shape
    assert float((tuned - base).abs().max()) > 1e-6  # the adapter changes the logits


def test_cancel_before_start(db, tiny_llava, training_set, tmp_path):
    run = runs.create_run(db, fast_config(training_set, "early", tmp_path))
    runs.request_cancel(db, run.id)
    assert run_training(db, run.id) is None
    assert runs.get_run(db, run.id).status == "cancelled"
    with pytest.raises(Exception, match="only queued or running runs can be cancelled"):
        runs.request_cancel(db, run.id)


def test_register_and_merge_checkpoint(db, tiny_llava, training_set, tmp_path, mri_images):  # noqa: F811
    config = fast_config(training_set, "merge", tmp_path, target_modules=("all-linear",), learning_rate=1e-2,
                         epochs=3.0, save_steps=3)
    run = runs.create_run(db, config)
    run_training(db, run.id)
    steps = [c.step for c in read_checkpoints(db, run.id)]
    assert steps == [3, 6, 9]

    adapter = register_checkpoint(db, run.id, "merge-step3", step=3)
    entries = {c.step: c for c in read_snapshot(db, run.id).checkpoints}
    assert entries[3].adapters == ("merge-step3",)
    assert adapter.path.endswith("step-000003/adapter")
    assert len(adapter.sha256) == 64
    with pytest.raises(Exception, match="already has an adapter named 'merge-step3'"):
        register_checkpoint(db, run.id, "merge-step3", step=6)
    with pytest.raises(Exception, match="no checkpoint at step 4; its checkpoints: 3, 6, 9"):
        register_checkpoint(db, run.id, "other", step=4)

    result = merge_checkpoint(db, run.id, tmp_path / "merged", step=6)
    adapter_dir = checkpoint_path(run.output_dir, 6) / "adapter"
    with_adapter = _logits(tiny_llava, adapter_dir, mri_images["b"])
    merged = _logits(result.folder, None, mri_images["b"])
    base = _logits(tiny_llava, None, mri_images["b"])
    assert float((merged - with_adapter).abs().max()) <= 1e-5
    assert float((merged - base).abs().max()) > 1e-3
    with pytest.raises(Exception, match="is not empty"):
        merge_checkpoint(db, run.id, tmp_path / "merged", step=6)


def test_merge_rejects_quantized_base(db, tiny_llava, training_set, tmp_path):
    from db.models import Model

    run = runs.create_run(db, fast_config(training_set, "quantized", tmp_path, epochs=1.0))
    run_training(db, run.id)
    with db.session(write=True) as session:
        model = session.query(Model).filter_by(name="tiny-llava").one()
        model.quantization = "bitsandbytes-4bit"
    with pytest.raises(Exception, match="cannot merge an adapter into the quantized model 'tiny-llava'"):
        merge_checkpoint(db, run.id, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_merge_gguf_without_converter(db, tiny_llava, training_set, tmp_path, monkeypatch):
    run = runs.create_run(db, fast_config(training_set, "no-converter", tmp_path, epochs=1.0))
    run_training(db, run.id)
    monkeypatch.setenv("NEUROONCO_LLAMA_CPP_DIR", str(tmp_path / "no-llama-cpp"))
    with pytest.raises(Exception, match="llama.cpp's GGUF converter was not found"):
        merge_checkpoint(db, run.id, tmp_path / "merged", gguf=True)
    assert not (tmp_path / "merged").exists()


def test_metrics_and_snapshot(db, tiny_llava, training_set, tmp_path):
    run = runs.create_run(db, fast_config(training_set, "snap", tmp_path, eval_steps=1, epochs=1.0))
    run_training(db, run.id)
    points = read_metrics(db, run.id)
    assert all(point.val_loss is not None for point in points)
    assert all(point.samples_per_second and point.samples_per_second > 0 for point in points)
    assert all(point.gpu_memory_mb is None for point in points)  # no CUDA here
    assert points[0].learning_rate == pytest.approx(1e-3)  # warm-up 0: the peak from step 1
    snapshot = read_snapshot(db, run.id, after_metric_id=points[0].id)
    assert [p.step for p in snapshot.metrics] == [p.step for p in points[1:]]
    assert snapshot.eta_seconds is None  # the run is finished
    assert "checkpoint step" in snapshot.log_tail or snapshot.log_tail == ""
