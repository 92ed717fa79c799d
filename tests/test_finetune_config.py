"""Fine-tuning settings: validation messages, the command line, schedules and the data order."""

from __future__ import annotations

import argparse
import math

import pytest

from engine.errors import InvalidInputError
from engine.finetune.command import add_config_arguments, command_arguments, command_line, config_from_args
from engine.finetune.config import DEFAULTS, DatasetSpec, FineTuneConfig
from engine.finetune.order import DataOrder
from engine.finetune.schedule import lr_multiplier, warmup_steps
from engine.finetune.validation import (Environment, ModelChoice, ValidationContext, raise_for_errors,
                                        validate)

MODELS = {"tiny": ModelChoice("tiny", "transformers", "/m"),
          "gguf": ModelChoice("gguf", "llama.cpp", "/m.gguf"),
          "gptq": ModelChoice("gptq", "transformers", "/q", quantization="gptq-4bit")}
CPU = Environment(cuda_devices=0)
TWO_GPUS = Environment(cuda_devices=2, bf16_supported=True, bitsandbytes=True)


def _valid(tmp_path, **changes) -> FineTuneConfig:
    data = tmp_path / "train.jsonl"
    data.write_text("{}\n")
    values = dict(run_name="run-1", base_model="tiny", datasets=(DatasetSpec("jsonl", str(data)),),
                  precision="fp32", device="cpu")
    values.update(changes)
    return FineTuneConfig(**values)


def _messages(config: FineTuneConfig, environment: Environment = CPU, **context) -> dict[str, str]:
    issues = validate(config, ValidationContext(models=MODELS, environment=environment, **context))
    return {issue.field: issue.message for issue in issues if issue.severity == "error"}


def test_recipe_defaults():
    assert DEFAULTS.target_modules == ("q_proj", "v_proj")
    assert DEFAULTS.learning_rate == 1e-4
    assert DEFAULTS.scheduler == "cosine"
    assert DEFAULTS.warmup_ratio == 0.05
    assert DEFAULTS.epochs == 1.0
    assert DEFAULTS.precision == "bf16"
    assert (DEFAULTS.lora_rank, DEFAULTS.lora_alpha, DEFAULTS.lora_dropout) == (8, 16.0, 0.0)


def test_valid_config_has_no_errors(tmp_path):
    assert _messages(_valid(tmp_path)) == {}


@pytest.mark.parametrize("changes, field, expected", [
    ({"run_name": ""}, "run_name", "the run name is empty"),
    ({"run_name": "two words"}, "run_name", "run name 'two words' may only contain"),
    ({"base_model": "missing"}, "base_model", "model 'missing' is not registered"),
    ({"base_model": "gguf"}, "base_model", "uses the llama.cpp backend"),
    ({"base_model": "gptq"}, "base_model", "is stored quantized (gptq-4bit)"),
    ({"datasets": ()}, "datasets", "no training data chosen"),
    ({"datasets": (DatasetSpec("jsonl", "/nowhere/x.jsonl"),)}, "datasets", "/nowhere/x.jsonl does not exist"),
    ({"datasets": (DatasetSpec("database", pipeline_run=""),)}, "datasets", "names no pipeline run"),
    ({"method": "qlora"}, "method", "QLoRA loads the base model in 4 bits with bitsandbytes, which needs a CUDA GPU"),
    ({"method": "full"}, "method", "method 'full' is unknown"),
    ({"lora_rank": 0}, "lora_rank", "rank 0 is outside 1 to 1024"),
    ({"lora_alpha": 0.0}, "lora_alpha", "alpha 0.0 must be above 0"),
    ({"lora_dropout": 1.0}, "lora_dropout", "dropout 1.0 must be in [0, 1)"),
    ({"target_modules": ()}, "target_modules", "no target modules"),
    ({"target_modules": ("all-linear", "q_proj")}, "target_modules", "'all-linear' is a preset; use it alone"),
    ({"target_modules": ("q proj",)}, "target_modules", "target module name 'q proj' is invalid"),
    ({"learning_rate": 0.0}, "learning_rate", "learning rate 0.0 is outside (0, 1]"),
    ({"learning_rate": float("nan")}, "learning_rate", "learning rate nan is outside (0, 1]"),
    ({"scheduler": "step"}, "scheduler", "scheduler 'step' is unknown"),
    ({"warmup_ratio": 1.0}, "warmup_ratio", "warm-up 1.0 must be a fraction in [0, 1)"),
    ({"epochs": 0.0}, "epochs", "epochs 0.0 is outside (0, 1000]"),
    ({"batch_size": 0}, "batch_size", "batch size 0 must be 1 or more"),
    ({"gradient_accumulation": 0}, "gradient_accumulation", "gradient accumulation 0 must be 1 or more"),
    ({"max_length": 8}, "max_length", "maximum length 8 must be at least 16 tokens"),
    ({"max_image_pixels": 100}, "max_image_pixels", "maximum image pixels 100 must be at least 1024"),
    ({"val_split": 0.6}, "val_split", "validation split 0.6 is outside 0 to 0.5"),
    ({"seed": -1}, "seed", "seed -1 must be an integer"),
    ({"precision": "int8"}, "precision", "precision 'int8' is unknown"),
    ({"gpus": 0}, "gpus", "number of GPUs 0 must be 1 or more"),
    ({"gpus": 2, "device": "auto"}, "gpus", "2 GPUs requested but this machine has 0"),
    ({"device": "tpu"}, "device", "device 'tpu' is unknown"),
    ({"device": "cuda"}, "device", "device 'cuda' needs a CUDA GPU"),
    ({"save_steps": 0}, "save_steps", "checkpoint interval 0 must be 1 or more steps"),
    ({"eval_steps": -1}, "eval_steps", "validation interval -1 must be 0"),
    ({"logging_steps": 0}, "logging_steps", "logging interval 0 must be 1 or more steps"),
    ({"max_grad_norm": -1.0}, "max_grad_norm", "maximum gradient norm -1.0 must be 0"),
    ({"weight_decay": -0.1}, "weight_decay", "weight decay -0.1 must be 0 or more"),
])
def test_validate_names_field_and_value(tmp_path, changes, field, expected):
    messages = _messages(_valid(tmp_path, **changes))
    assert field in messages
    assert expected in messages[field]


def test_validate_existing_run_name(tmp_path):
    messages = _messages(_valid(tmp_path), run_names=frozenset({"run-1"}))
    assert "a training run named 'run-1' already exists" in messages["run_name"]


def test_validate_nonempty_output_dir(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "file").write_text("x")
    messages = _messages(_valid(tmp_path, output_dir=str(tmp_path / "out")))
    assert "is not empty" in messages["output_dir"]


def test_validate_depends_on_machine(tmp_path):
    assert "gpus" not in _messages(_valid(tmp_path, gpus=2, device="auto"), TWO_GPUS)
    assert "method" not in _messages(_valid(tmp_path, method="qlora", device="auto"), TWO_GPUS)
    no_bnb = Environment(cuda_devices=1, bf16_supported=True, bitsandbytes=False)
    assert "bitsandbytes" in _messages(_valid(tmp_path, method="qlora", device="auto"), no_bnb)["method"]
    old_gpu = Environment(cuda_devices=1, bf16_supported=False)
    assert "no bf16 support" in _messages(_valid(tmp_path, precision="bf16", device="auto"), old_gpu)["precision"]
    # Several CPU processes are allowed: that is how multi-process training is tested.
    assert "gpus" not in _messages(_valid(tmp_path, gpus=2, device="cpu"))


def test_bf16_on_cpu_is_a_warning(tmp_path):
    issues = validate(_valid(tmp_path, precision="bf16"), ValidationContext(models=MODELS, environment=CPU))
    warnings = [issue for issue in issues if issue.field == "precision"]
    assert len(warnings) == 1
    assert warnings[0].severity == "warning"


def test_raise_for_errors_lists_every_field(tmp_path):
    with pytest.raises(InvalidInputError) as raised:
        raise_for_errors(_valid(tmp_path, lora_rank=0, batch_size=0), ValidationContext(models=MODELS))
    assert "lora_rank: rank 0" in str(raised.value)
    assert "batch_size: batch size 0" in str(raised.value)


def test_config_dict_round_trip():
    config = FineTuneConfig(run_name="a", base_model="m", datasets=(DatasetSpec.parse("db:run:val"),
                                                                    DatasetSpec.parse("x.jsonl")))
    assert FineTuneConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InvalidInputError, match="unknown fine-tuning setting"):
        FineTuneConfig.from_dict({"learnin_rate": 1})


def test_dataset_spec_parse():
    assert DatasetSpec.parse("db:glioma") == DatasetSpec("database", pipeline_run="glioma", split="train")
    assert DatasetSpec.parse("db:glioma:benchmark").split == "benchmark"
    assert DatasetSpec.parse("/data/a.jsonl") == DatasetSpec("jsonl", path="/data/a.jsonl")


def test_command_line_round_trip():
    config = FineTuneConfig(run_name="glioma lora", base_model="qwen", target_modules=("all-linear",),
                            datasets=(DatasetSpec.parse("db:p1:train"), DatasetSpec.parse("a b.jsonl")),
                            freeze_projector=False, learning_rate=2e-5, epochs=1.5, gpus=2)
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    parsed = config_from_args(parser.parse_args(command_arguments(config)[2:]))
    assert parsed == config
    assert command_line(config).startswith("neuroonco finetune start --dataset db:p1:train --dataset 'a b.jsonl'")
    assert "--no-freeze-projector" in command_line(config)


@pytest.mark.parametrize("kind", ["cosine", "linear", "constant"])
def test_schedule_matches_transformers(kind):
    import torch
    from transformers import get_scheduler

    total, warmup = 37, warmup_steps(37, 0.05)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    name = "constant_with_warmup" if kind == "constant" else kind
    reference = get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total)
    ours = lr_multiplier(kind, total, warmup)
    for step in range(total):
        assert math.isclose(ours(step), reference.get_last_lr()[0], abs_tol=1e-12), step
        optimizer.step()
        reference.step()


def test_data_order_covers_each_sample_once_per_epoch():
    order = DataOrder(sample_count=11, batch_size=2, accumulation=2, epochs=2, seed=3)
    assert order.steps_per_epoch == 3
    assert order.total_steps == 6
    for epoch in range(2):
        seen = [index for step in range(epoch * 3, epoch * 3 + 3)
                for batch in order.step_micro_batches(step) for index in batch]
        assert sorted(seen) == list(range(11))
    first = [i for b in order.step_micro_batches(0) for i in b]
    second = [i for b in order.step_micro_batches(3) for i in b]
    assert first != second  # each epoch has its own shuffle


def test_data_order_shards_processes():
    order = DataOrder(sample_count=9, batch_size=2, accumulation=1, epochs=1, seed=0, world_size=2)
    per_rank = [[i for step in range(order.total_steps) for b in order.step_micro_batches(step, rank) for i in b]
                for rank in (0, 1)]
    assert all(len(indices) == 6 for indices in per_rank)  # padded to full batches on both
    assert set(per_rank[0]) | set(per_rank[1]) == set(range(9))
    single = DataOrder(sample_count=8, batch_size=2, accumulation=2, epochs=1, seed=0)
    double = DataOrder(sample_count=8, batch_size=2, accumulation=1, epochs=1, seed=0, world_size=2)
    for step in range(2):
        merged = sorted(double.step_micro_batches(step, 0)[0] + double.step_micro_batches(step, 1)[0])
        assert merged == sorted(i for b in single.step_micro_batches(step) for i in b)


def test_fractional_epochs():
    order = DataOrder(sample_count=8, batch_size=2, accumulation=1, epochs=1.5, seed=0)
    assert order.total_steps == 6
    assert order.epoch_progress(6) == 1.5
