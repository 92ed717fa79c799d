"""Fixtures for the fine-tuning tests: training data from real MRI slices, a registered tiny model.

The training set is a JSONL file of questions about axial slices of the Colin27 T1
template (Debian mricron-data), written as PNG files. The model is the tiny random LLaVA
of :mod:`tinymodels`, registered in the test's database.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from inference_fixtures import mri_images, tiny_models  # noqa: F401 - re-exported fixtures
from tinymodels import CH2, mri_slice

QUESTIONS = ("Which sequence is this?", "Is there an abnormality?", "Where is the lesion?",
             "What is shown?")
ANSWERS = ("The answer is B.", "A", "The lesion is in the left frontal lobe.", "Final: A")
# Settings that keep a run to a few seconds on a CPU; each test changes what it studies.
FAST = dict(precision="fp32", device="cpu", batch_size=2, gradient_accumulation=2, epochs=2.0,
            learning_rate=1e-3, warmup_ratio=0.0, max_length=256, save_steps=2, eval_steps=0,
            val_split=0.2, lora_dropout=0.0)


def write_training_set(folder: Path, count: int, first_slice: int = 40) -> Path:
    """Write ``count`` samples (one slice image each) as ``train.jsonl`` in ``folder``."""
    if not CH2.exists():
        pytest.skip(f"{CH2} not found (Debian package mricron-data)")
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(count):
        name = f"slice_{index:03d}.png"
        mri_slice(first_slice + 3 * index).save(folder / name)
        messages = [{"role": "user", "content": f"<image>\n{QUESTIONS[index % len(QUESTIONS)]}"},
                    {"role": "assistant", "content": ANSWERS[index % len(ANSWERS)]}]
        lines.append(json.dumps({"messages": messages, "images": [name]}))
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def training_set(tmp_path_factory) -> Path:
    """Twelve samples: ten for training and two for validation with ``val_split`` 0.2."""
    return write_training_set(tmp_path_factory.mktemp("finetune-data"), 12)


@pytest.fixture
def tiny_llava(db, tiny_models):  # noqa: F811 - the fixture of the same name above
    """The tiny LLaVA registered as transformers model ``tiny-llava``; returns its folder."""
    from engine.inference.registry import add_model

    path = tiny_models.llava()
    add_model(db, "tiny-llava", "transformers", path=path, compute_hash=False)
    return path


def fast_config(training_set: Path, name: str, tmp_path: Path, **changes):
    """Return a FineTuneConfig for the tiny LLaVA with :data:`FAST` settings and ``changes``."""
    from engine.finetune.config import DatasetSpec, FineTuneConfig

    values = dict(FAST, run_name=name, base_model="tiny-llava",
                  datasets=(DatasetSpec("jsonl", str(training_set)),),
                  output_dir=str(tmp_path / "runs" / name))
    values.update(changes)
    return FineTuneConfig(**values)


def losses(db, run_id: int) -> dict[int, float]:
    from engine.finetune.monitoring import read_metrics

    return {point.step: point.loss for point in read_metrics(db, run_id)}


@pytest.fixture
def tiny_db(demo_db, tiny_models):  # noqa: F811
    """The demo study with the tiny LLaVA registered as ``tiny-llava`` (import ``demo_db`` too)."""
    from engine.inference.registry import add_model

    add_model(demo_db, "tiny-llava", "transformers", path=tiny_models.llava(), compute_hash=False)
    return demo_db


def kill_training(db, name: str) -> None:
    """Kill the detached process of training run ``name``, if the run exists and still has one."""
    from engine.finetune import runs
    from engine.finetune.process import process_alive

    try:
        run = runs.get_run(db, name)
    except Exception:  # noqa: BLE001 - the run may never have been created
        return
    if process_alive(run.pid, run.id):
        os.kill(run.pid, signal.SIGKILL)
