"""The first training batch as the model sees it, for checking templates and label masks.

A preview shows each row of the first micro-batch as segments: prompt text (no loss),
learned text (the labels), runs of image tokens and padding. A wrong chat template,
``<image>`` placeholders that expand to nothing, or labels on the prompt show up here
before hours of training are spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from engine.finetune.collator import IGNORE_INDEX, Batch, ChatCollator
from engine.finetune.config import FineTuneConfig
from engine.finetune.data import TrainingSample, load_samples, split_samples
from engine.finetune.order import DataOrder

PROMPT, LABEL, IMAGE, PAD = "prompt", "label", "image", "pad"


@dataclass(frozen=True)
class Segment:
    """Consecutive tokens of one kind: prompt, label, image or pad."""

    kind: str
    text: str
    tokens: int


@dataclass(frozen=True)
class RowPreview:
    key: str
    segments: tuple[Segment, ...]
    tokens: int
    label_tokens: int
    image_tokens: int


@dataclass(frozen=True)
class BatchPreview:
    """The rows of one micro-batch, the tensor shapes and the samples left out."""

    rows: tuple[RowPreview, ...]
    shapes: dict[str, tuple[int, ...]]
    skipped: tuple[str, ...]

    def render(self) -> str:
        """Return the preview as text: learned text in [[...]], image and pad runs collapsed."""
        lines = ["tensors: " + ", ".join(f"{name} {list(shape)}" for name, shape in self.shapes.items())]
        for row in self.rows:
            lines.append(f"--- {row.key}: {row.tokens} tokens, {row.label_tokens} learned, "
                         f"{row.image_tokens} image tokens")
            parts = []
            for segment in row.segments:
                if segment.kind == LABEL:
                    parts.append(f"[[{segment.text}]]")
                elif segment.kind in (IMAGE, PAD):
                    parts.append(f"<{segment.kind} x{segment.tokens}>")
                else:
                    parts.append(segment.text)
            lines.append("".join(parts))
        if self.skipped:
            lines.append(f"skipped (prompt longer than the maximum length): {', '.join(self.skipped)}")
        return "\n".join(lines)


def describe_batch(batch: Batch, collator: ChatCollator) -> BatchPreview:
    """Split each row of ``batch`` into prompt, label, image and pad segments."""
    tokenizer = collator.tokenizer
    image_ids = set(collator.image_token_ids)
    rows = []
    if batch.size:
        input_ids = batch.inputs["input_ids"]
        attention = batch.inputs["attention_mask"]
        for row_index, key in enumerate(batch.keys):
            kinds = []
            for ids, label, mask in zip(input_ids[row_index].tolist(), batch.labels[row_index].tolist(),
                                        attention[row_index].tolist()):
                kind = PAD if mask == 0 else IMAGE if ids in image_ids else \
                    PROMPT if label == IGNORE_INDEX else LABEL
                kinds.append((kind, ids))
            rows.append(_row(key, kinds, tokenizer))
    shapes = {name: tuple(value.shape) for name, value in batch.inputs.items() if hasattr(value, "shape")}
    return BatchPreview(tuple(rows), shapes, tuple(batch.skipped))


def _row(key: str, kinds: list[tuple[str, int]], tokenizer: Any) -> RowPreview:
    segments: list[Segment] = []
    run: list[int] = []
    for index, (kind, token_id) in enumerate(kinds):
        run.append(token_id)
        if index + 1 == len(kinds) or kinds[index + 1][0] != kind:
            text = "" if kind in (IMAGE, PAD) else tokenizer.decode(run)
            segments.append(Segment(kind, text, len(run)))
            run = []
    return RowPreview(key, tuple(segments), sum(1 for kind, _ in kinds if kind != PAD),
                      sum(s.tokens for s in segments if s.kind == LABEL),
                      sum(s.tokens for s in segments if s.kind == IMAGE))


def first_batch_samples(config: FineTuneConfig, samples: Sequence[TrainingSample]) -> list[TrainingSample]:
    """Return the samples of the first micro-batch of process 0, in training order."""
    train, _val = split_samples(list(samples), config.val_split, config.seed)
    order = DataOrder(len(train), config.batch_size, config.gradient_accumulation, config.epochs,
                      config.seed, config.gpus)
    return [train[index] for index in order.step_micro_batches(0, 0)[0]]


def preview_first_batch(config: FineTuneConfig, processor: Any, db: Any = None) -> BatchPreview:
    """Load the data of ``config`` and describe its first training micro-batch."""
    samples = load_samples(config.datasets, config.image_root, db)
    collator = ChatCollator(processor, config.max_length, config.max_image_pixels)
    return describe_batch(collator(first_batch_samples(config, samples)), collator)


def mean_tokens(collator: ChatCollator, samples: Sequence[TrainingSample], limit: int = 16) -> float | None:
    """Return the mean length in tokens of the first ``limit`` samples (for the estimate)."""
    lengths = []
    for sample in list(samples)[:limit]:
        batch = collator([sample])
        if batch.size:
            lengths.append(int(batch.inputs["attention_mask"].sum()))
    return sum(lengths) / len(lengths) if lengths else None
