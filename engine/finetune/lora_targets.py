"""Which layers get LoRA, which stay frozen, and which are trained in full.

Vision-language models name their parts differently (LLaVA ``vision_tower`` +
``multi_modal_projector``, Idefics3 / SmolVLM ``vision_model`` + ``connector``, Qwen-VL
``visual`` with ``visual.merger``, Gemma 3 ``vision_tower`` + ``multi_modal_projector``).
A module belongs to the vision tower or the projector when one of these names is a
component of its dotted path; the projector is checked first because Qwen-VL nests it in
the tower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidInputError
from engine.finetune.config import FineTuneConfig

VISION_TOWER_NAMES = ("vision_tower", "vision_model", "visual", "vision_encoder", "image_encoder",
                      "vpm")
PROJECTOR_NAMES = ("multi_modal_projector", "connector", "merger", "mm_projector", "resampler",
                   "aligner")
LANGUAGE, VISION, PROJECTOR = "language", "vision", "projector"


@dataclass(frozen=True)
class TargetPlan:
    """The full module names that get LoRA and the projector modules trained in full."""

    lora_modules: tuple[str, ...]
    full_modules: tuple[str, ...]


def part_of(module_name: str) -> str:
    """Return "projector", "vision" or "language" for a dotted module path."""
    components = module_name.split(".")
    if any(name in components for name in PROJECTOR_NAMES):
        return PROJECTOR
    if any(name in components for name in VISION_TOWER_NAMES):
        return VISION
    return LANGUAGE


def linear_layers(model: Any) -> list[str]:
    """Return the names of the model's linear layers (bitsandbytes ones too), not the output layer."""
    import torch

    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = []
    for name, module in model.named_modules():
        if module is output:
            continue
        if isinstance(module, torch.nn.Linear) or type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
            names.append(name)
    return names


def plan_targets(model: Any, config: FineTuneConfig) -> TargetPlan:
    """Resolve the configured target names to full module names.

    LoRA goes on language-model layers whose last name component is a target (every
    linear layer for the all-linear preset), and also on vision-tower layers when the
    vision tower is not frozen. The projector is never given LoRA; when it is not frozen
    it is trained in full and saved with the adapter. Raises InvalidInputError when a
    target matches no layer.
    """
    layers = linear_layers(model)
    allowed = {LANGUAGE} if config.freeze_vision_tower else {LANGUAGE, VISION}
    candidates = [name for name in layers if part_of(name) in allowed]
    if config.all_linear:
        chosen = candidates
    else:
        wanted = set(config.target_modules)
        chosen = [name for name in candidates if name.rsplit(".", 1)[-1] in wanted]
        found = {name.rsplit(".", 1)[-1] for name in chosen}
        missing = sorted(wanted - found)
        if missing:
            known = sorted({name.rsplit(".", 1)[-1] for name in candidates})
            raise InvalidInputError(f"target module(s) {', '.join(missing)} match no linear layer "
                                    f"of this model; its layer names: {', '.join(known)}")
    if not chosen:
        raise InvalidInputError("no linear layer to put LoRA on; check the target modules")

    full: list[str] = []
    if not config.freeze_projector:
        full = _top_projectors(model)
        if not full:
            raise InvalidInputError("this model has no projector module the trainer recognises "
                                    f"({', '.join(PROJECTOR_NAMES)}); keep the projector frozen")
    return TargetPlan(tuple(chosen), tuple(full))


def _top_projectors(model: Any) -> list[str]:
    """Return the outermost projector modules (``model.multi_modal_projector``, ``visual.merger``)."""
    found: list[str] = []
    for name, _module in model.named_modules():
        if name and name.rsplit(".", 1)[-1] in PROJECTOR_NAMES:
            if not any(name.startswith(parent + ".") for parent in found):
                found.append(name)
    return found
