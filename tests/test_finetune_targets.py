"""Which layers get LoRA, which stay frozen and which are trained in full.

Each plan is checked on the PEFT model that training builds (``wrap_with_lora``): the tests
count the parameters that require gradients under each part's module prefix. A short run
checks that a projector trained in full reaches the checkpoint and the merged model.
"""

from __future__ import annotations

import pytest

from engine.errors import InvalidInputError
from engine.finetune.config import DatasetSpec, FineTuneConfig
from engine.finetune.lora_targets import LANGUAGE, PROJECTOR, VISION, part_of, plan_targets
from engine.finetune.model_setup import load_base, wrap_with_lora
from finetune_fixtures import fast_config, tiny_llava, tiny_models, training_set  # noqa: F401

pytestmark = pytest.mark.slow

# Module prefixes of the tiny models' parts (see tests/tinymodels.py): two vision layers,
# two language layers, and a projector of two linear layers (LLaVA) or one (Idefics3).
PARTS = {
    "llava": {VISION: "model.vision_tower.", PROJECTOR: "model.multi_modal_projector.",
              LANGUAGE: "model.language_model."},
    "idefics3": {VISION: "model.vision_model.", PROJECTOR: "model.connector.", LANGUAGE: "model.text_model."},
}
PEFT_PREFIX = "base_model.model."


def _config(**changes) -> FineTuneConfig:
    values = dict(run_name="targets", base_model="tiny", datasets=(DatasetSpec("jsonl", "unused.jsonl"),),
                  precision="fp32", device="cpu")
    values.update(changes)
    return FineTuneConfig(**values)


@pytest.fixture(params=sorted(PARTS))
def base(request, tiny_models):  # noqa: F811
    """(architecture name, a freshly loaded tiny base model) for LLaVA and Idefics3."""
    path = getattr(tiny_models, request.param)()
    return request.param, load_base(path, _config(), "cpu")


def _part(arch: str, name: str) -> str | None:
    """Return the part whose prefix starts ``name`` (a base or PEFT name), None for the rest."""
    name = name.removeprefix(PEFT_PREFIX)
    for part, prefix in PARTS[arch].items():
        if name.startswith(prefix):
            return part
    return None


def _trainable(arch: str, model) -> dict[str | None, int]:
    """Count the trainable parameter elements of ``model`` per part."""
    counts: dict[str | None, int] = {LANGUAGE: 0, VISION: 0, PROJECTOR: 0}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            part = _part(arch, name)
            counts[part] = counts.get(part, 0) + parameter.numel()
    return counts


def _lora_layers(arch: str, model) -> dict[str, list[str]]:
    """Return the names of the layers that carry LoRA, per part."""
    found: dict[str, list[str]] = {LANGUAGE: [], VISION: [], PROJECTOR: []}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and len(module.lora_A) > 0:
            found.setdefault(_part(arch, name), []).append(name.removeprefix(PEFT_PREFIX))
    return found


def test_default_plan_trains_language_lora_only(base):
    arch, model = base
    plan = plan_targets(model, _config())
    assert plan.full_modules == ()
    assert {_part(arch, name) for name in plan.lora_modules} == {LANGUAGE}
    assert sorted(name.rsplit(".", 1)[-1] for name in plan.lora_modules) == ["q_proj", "q_proj", "v_proj", "v_proj"]

    peft_model, _ = wrap_with_lora(model, _config())
    counts = _trainable(arch, peft_model)
    assert counts[LANGUAGE] > 0
    assert counts[VISION] == 0
    assert counts[PROJECTOR] == 0
    assert counts.get(None, 0) == 0  # embeddings and the output layer stay frozen
    layers = _lora_layers(arch, peft_model)
    assert layers[VISION] == []
    assert layers[PROJECTOR] == []
    assert sorted(layers[LANGUAGE]) == sorted(plan.lora_modules)
    assert all("lora_" in name for name, p in peft_model.named_parameters() if p.requires_grad)


def test_unfrozen_vision_tower_gets_lora(base):
    arch, model = base
    config = _config(freeze_vision_tower=False)
    plan = plan_targets(model, config)
    vision = [name for name in plan.lora_modules if _part(arch, name) == VISION]
    assert sorted(name.rsplit(".", 1)[-1] for name in vision) == ["q_proj", "q_proj", "v_proj", "v_proj"]
    assert not any(_part(arch, name) == PROJECTOR for name in plan.lora_modules)
    assert plan.full_modules == ()

    peft_model, _ = wrap_with_lora(model, config)
    counts = _trainable(arch, peft_model)
    assert counts[VISION] > 0
    assert counts[LANGUAGE] > 0
    assert counts[PROJECTOR] == 0
    assert sorted(_lora_layers(arch, peft_model)[VISION]) == sorted(vision)


def test_unfrozen_projector_trained_in_full(base, tmp_path):
    arch, model = base
    projector_prefix = PARTS[arch][PROJECTOR]
    projector_size = sum(p.numel() for name, p in model.named_parameters() if name.startswith(projector_prefix))
    projector_tensors = sum(1 for name, _ in model.named_parameters() if name.startswith(projector_prefix))
    config = _config(freeze_projector=False)
    plan = plan_targets(model, config)
    assert plan.full_modules == (projector_prefix.rstrip("."),)
    assert {_part(arch, name) for name in plan.lora_modules} == {LANGUAGE}

    peft_model, _ = wrap_with_lora(model, config)
    counts = _trainable(arch, peft_model)
    assert counts[PROJECTOR] == projector_size  # one trainable copy of every projector weight
    assert counts[VISION] == 0
    assert _lora_layers(arch, peft_model)[PROJECTOR] == []
    frozen_projector = [name for name, p in peft_model.named_parameters()
                        if _part(arch, name) == PROJECTOR and not p.requires_grad]
    assert frozen_projector and all(".original_module." in name for name in frozen_projector)

    # The adapter file carries the projector weights beside the LoRA matrices.
    from safetensors.torch import load_file

    peft_model.save_pretrained(tmp_path / "adapter")
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert sum(1 for key in saved if _part(arch, key) == PROJECTOR) == projector_tensors


def test_all_linear_preset_respects_frozen_parts(base):
    arch, model = base
    output_layer = model.get_output_embeddings()
    linear = {name: _part(arch, name) for name, module in model.named_modules()
              if type(module).__name__ == "Linear" and module is not output_layer}
    frozen = plan_targets(model, _config(target_modules=("all-linear",)))
    assert sorted(frozen.lora_modules) == sorted(name for name, part in linear.items() if part == LANGUAGE)

    open_tower = plan_targets(model, _config(target_modules=("all-linear",), freeze_vision_tower=False))
    assert sorted(open_tower.lora_modules) == sorted(name for name, part in linear.items()
                                                     if part in (LANGUAGE, VISION))
    assert not any(name.endswith("lm_head") for name in open_tower.lora_modules)


def test_target_only_in_frozen_tower_rejected(base):
    arch, model = base
    # fc1 and out_proj are layer names of the vision tower only.
    with pytest.raises(InvalidInputError) as error:
        plan_targets(model, _config(target_modules=("fc1", "q_proj")))
    message = str(error.value)
    assert message.startswith("target module(s) fc1 match no linear layer of this model; its layer names: ")
    assert "q_proj" in message
    assert "out_proj" not in message

    plan = plan_targets(model, _config(target_modules=("fc1",), freeze_vision_tower=False))
    assert plan.lora_modules
    assert {_part(arch, name) for name in plan.lora_modules} == {VISION}


@pytest.mark.parametrize("name, part", [
    ("model.language_model.layers.0.self_attn.q_proj", LANGUAGE),
    ("model.vision_tower.encoder.layers.0.self_attn.q_proj", VISION),
    ("model.multi_modal_projector.linear_1", PROJECTOR),
    ("model.vision_model.encoder.layers.0.mlp.fc1", VISION),
    ("model.connector.modality_projection.proj", PROJECTOR),
    ("model.visual.blocks.0.attn.qkv", VISION),
    ("model.visual.merger.mlp.0", PROJECTOR),  # Qwen-VL nests the projector in the tower
    ("lm_head", LANGUAGE),
    ("model.language_model.layers.0.mlp.vision_gate", LANGUAGE),  # a component must match whole
])
def test_part_of_names(name, part):
    assert part_of(name) == part


def test_trained_projector_reaches_merge(db, tiny_llava, training_set, tmp_path):  # noqa: F811
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    from engine.finetune import runs
    from engine.finetune.checkpoints import latest_checkpoint, load_adapter_weights
    from engine.finetune.export import merge_checkpoint
    from engine.finetune.training import run_training

    config = fast_config(training_set, "open-parts", tmp_path, epochs=1.0, freeze_projector=False,
                         freeze_vision_tower=False)
    run = runs.create_run(db, config)
    assert run_training(db, run.id).status == "finished"
    checkpoint = latest_checkpoint(config.output_dir)
    saved = load_file(checkpoint.adapter_path / "adapter_model.safetensors")

    base = AutoModelForImageTextToText.from_pretrained(tiny_llava, dtype=torch.float32)
    base_weights = dict(base.named_parameters())
    projector = {key.removeprefix(PEFT_PREFIX): value for key, value in saved.items()
                 if _part("llava", key) == PROJECTOR}
    assert sorted(projector) == sorted(name for name in base_weights if _part("llava", name) == PROJECTOR)
    for name, value in projector.items():
        assert not torch.equal(value, base_weights[name].detach()), f"{name} was not trained"
    vision_b = [value for key, value in saved.items() if _part("llava", key) == VISION and ".lora_B." in key]
    assert vision_b and all(value.abs().sum() > 0 for value in vision_b)

    # Resuming loads the trained projector back into a fresh PEFT model.
    fresh, _ = wrap_with_lora(load_base(tiny_llava, config, "cpu"), config)
    load_adapter_weights(fresh, checkpoint)
    fresh_weights = dict(fresh.named_parameters())
    for name, value in projector.items():
        trained_copy = name.replace("multi_modal_projector.", "multi_modal_projector.modules_to_save.default.")
        assert torch.equal(fresh_weights[PEFT_PREFIX + trained_copy].detach(), value), name

    # The merged model contains the trained projector and a changed vision tower.
    merged_dir = merge_checkpoint(db, run.id, tmp_path / "merged").folder
    merged = dict(AutoModelForImageTextToText.from_pretrained(merged_dir, dtype=torch.float32).named_parameters())
    for name, value in projector.items():
        assert torch.equal(merged[name].detach(), value), name
    query = "model.vision_tower.encoder.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged[query].detach(), base_weights[query].detach())
