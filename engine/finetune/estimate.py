"""An estimate of GPU (or CPU) memory and training time, shown before a run starts.

Everything here is an estimate from the model's config.json and simple rules, not a
measurement:

- weights: parameter count x bytes per parameter (2 for bf16 / fp16, 4 for fp32, about
  0.55 for 4-bit NF4 with double quantization);
- LoRA: r x (inputs + outputs) parameters per adapted layer, held in fp32 with their
  gradients and two AdamW moments (16 bytes per parameter);
- activations kept for the backward pass: per layer and token about
  ``hidden x (34 + 5 x heads x length / hidden)`` bytes in 16-bit precision (twice that
  in fp32), the rule of Korthikanti et al. 2022, "Reducing Activation Recomputation in
  Large Transformer Models", for a layer without recomputation; plus the fp32 logits of
  one micro-batch for the loss;
- 1 GiB for the CUDA context and allocator slack (none on the CPU);
- time: 4 x parameters x tokens floating-point operations (forward 2, backward through
  frozen weights 2) at an assumed sustained throughput per device.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.finetune.config import FineTuneConfig

GIB = 1024 ** 3
FRAMEWORK_OVERHEAD_GIB = 1.0
# Sustained training throughput assumed per process, in floating-point operations per
# second: roughly a third of the dense bf16 peak of a mid-range data-centre GPU, and what
# a few desktop CPU cores reach in fp32. Real throughput varies several-fold.
ASSUMED_FLOPS = {"cuda": 100e12, "mps": 5e12, "cpu": 0.1e12}
BYTES_PER_PARAMETER = {"bf16": 2.0, "fp16": 2.0, "fp32": 4.0}
FOUR_BIT_BYTES = 0.55
TRAINABLE_BYTES = 16  # fp32 weight, gradient and two AdamW moments


@dataclass(frozen=True)
class ModelFacts:
    """Sizes of a model read from its folder (config.json and safetensors headers)."""

    parameters: int
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    intermediate_size: int
    vocab_size: int
    head_dim: int

    def lora_parameters(self, config: FineTuneConfig) -> int:
        """Return the LoRA parameter count on the language model's layers (an estimate)."""
        q_out = self.heads * self.head_dim
        kv_out = self.kv_heads * self.head_dim
        shapes = {"q_proj": (self.hidden_size, q_out), "k_proj": (self.hidden_size, kv_out),
                  "v_proj": (self.hidden_size, kv_out), "o_proj": (q_out, self.hidden_size),
                  "gate_proj": (self.hidden_size, self.intermediate_size),
                  "up_proj": (self.hidden_size, self.intermediate_size),
                  "down_proj": (self.intermediate_size, self.hidden_size)}
        names = list(shapes) if config.all_linear else [n for n in config.target_modules if n in shapes]
        per_layer = sum(config.lora_rank * sum(shapes[name]) for name in names)
        return per_layer * self.layers


@dataclass(frozen=True)
class Estimate:
    """Memory per process (GiB) and time (seconds); ``notes`` describe how they were computed."""

    weights_gib: float
    trainable_gib: float
    activations_gib: float
    overhead_gib: float
    total_gib: float
    total_steps: int
    tokens: int
    seconds: float
    device: str
    notes: tuple[str, ...]

    def summary(self) -> str:
        return (f"estimated memory per process {format_size(self.total_gib)} (weights "
                f"{format_size(self.weights_gib)}, LoRA and optimizer {format_size(self.trainable_gib)}, "
                f"activations {format_size(self.activations_gib)}, overhead "
                f"{format_size(self.overhead_gib)}); estimated time {format_duration(self.seconds)} "
                f"for {self.total_steps} steps on {self.device} (an estimate, not a measurement)")


def model_facts(folder: str | Path) -> ModelFacts:
    """Read a model folder's sizes; the parameter count comes from the safetensors headers."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    text = config.get("text_config") or config
    hidden = int(text.get("hidden_size", 0))
    heads = int(text.get("num_attention_heads", 1))
    return ModelFacts(
        parameters=count_parameters(folder) or _guess_parameters(text),
        hidden_size=hidden, layers=int(text.get("num_hidden_layers", 0)), heads=heads,
        kv_heads=int(text.get("num_key_value_heads") or heads),
        intermediate_size=int(text.get("intermediate_size", 4 * hidden)),
        vocab_size=int(text.get("vocab_size", config.get("vocab_size", 0))),
        head_dim=int(text.get("head_dim") or (hidden // max(heads, 1))))


def count_parameters(folder: Path) -> int:
    """Sum the element counts in the safetensors headers (0 when there are none)."""
    total = 0
    for file in folder.glob("*.safetensors"):
        with file.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                total += math.prod(entry["shape"])
    return total


def _guess_parameters(text: dict[str, Any]) -> int:
    hidden = int(text.get("hidden_size", 0))
    layers = int(text.get("num_hidden_layers", 0))
    intermediate = int(text.get("intermediate_size", 4 * hidden))
    vocab = int(text.get("vocab_size", 0))
    return layers * (4 * hidden * hidden + 3 * hidden * intermediate) + 2 * vocab * hidden


def estimate(config: FineTuneConfig, facts: ModelFacts, train_samples: int,
             mean_tokens: float | None = None, device: str = "cuda") -> Estimate:
    """Estimate memory per process and wall time for ``config`` on ``device`` ("cuda", "mps", "cpu").

    ``mean_tokens`` is the mean sample length in tokens (image tokens included); without it
    every sample is assumed to fill ``max_length``.
    """
    from engine.finetune.order import DataOrder

    per_parameter = FOUR_BIT_BYTES if config.method == "qlora" else BYTES_PER_PARAMETER[config.precision]
    weights = facts.parameters * per_parameter
    trainable = facts.lora_parameters(config) * TRAINABLE_BYTES

    length = min(float(config.max_length), mean_tokens or float(config.max_length))
    activation_bytes = 2.0 if config.precision != "fp32" else 4.0
    per_layer_token = facts.hidden_size * (34 + 5 * facts.heads * length / max(facts.hidden_size, 1)) / 2
    activations = per_layer_token * activation_bytes * facts.layers * length * config.batch_size
    logits = 4.0 * facts.vocab_size * length * config.batch_size * 2  # fp32 logits and their gradient
    overhead = FRAMEWORK_OVERHEAD_GIB * GIB if device == "cuda" else 0.0

    order = DataOrder(train_samples, config.batch_size, config.gradient_accumulation,
                      config.epochs, config.seed, config.gpus)
    tokens = int(order.total_steps * config.gradient_accumulation * config.batch_size
                 * config.gpus * length)
    flops = 4.0 * facts.parameters * tokens
    seconds = flops / (ASSUMED_FLOPS.get(device, ASSUMED_FLOPS["cpu"]) * config.gpus)
    notes = (f"weights {facts.parameters / 1e9:.2f} B parameters x {per_parameter:g} bytes",
             f"LoRA {facts.lora_parameters(config):,} parameters x {TRAINABLE_BYTES} bytes "
             "(weight, gradient, two AdamW moments in fp32)",
             f"activations for batch {config.batch_size} x {length:.0f} tokens over {facts.layers} layers "
             "(Korthikanti et al. 2022 rule) plus fp32 logits",
             f"time assumes {ASSUMED_FLOPS.get(device, ASSUMED_FLOPS['cpu']) / 1e12:g} TFLOP/s per "
             f"process on {device} and 4 x parameters FLOPs per token")
    total = weights + trainable + activations + logits + overhead
    return Estimate(weights / GIB, trainable / GIB, (activations + logits) / GIB, overhead / GIB,
                    total / GIB, order.total_steps, tokens, seconds, device, notes)


def format_size(gib: float) -> str:
    return f"{gib:.1f} GiB" if gib >= 1 else f"{gib * 1024:.1f} MiB"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
