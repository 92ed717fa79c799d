"""Turning training samples into model inputs with labels.

Each image goes through the shared image-size policy (RGB, at most ``max_image_pixels``
pixels, aspect kept) and then the model's own processor, exactly as at inference. The chat
is rendered with the processor's chat template. Labels are the input ids with -100 at
every position the loss must ignore: system and user turns, the generation prompt of
each assistant turn, image tokens and padding. Only the assistant replies (with their
end-of-turn token) are learned.

Where an assistant reply starts is found by rendering the chat up to that turn with the
generation prompt and encoding it with the same processor and images, so the boundary is
right for any chat template and any image-token expansion. This processes each sample's
images twice (once for the boundary, once in the batch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

from engine.errors import WorkbenchError
from engine.finetune.data import TrainingSample
from engine.inference.images import prepare_image

log = logging.getLogger(__name__)

IGNORE_INDEX = -100


@dataclass
class Batch:
    """One micro-batch: model inputs, labels, and what was left out.

    ``skipped`` lists the keys of samples dropped because their prompt (text and image
    tokens) does not fit in ``max_length``; ``label_tokens`` counts the positions that
    contribute to the loss after the one-token shift of causal language modelling.
    """

    inputs: dict[str, Any]
    labels: Any
    keys: list[str]
    skipped: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.keys)

    @property
    def label_tokens(self) -> int:
        if self.labels is None:
            return 0
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())


class ChatCollator:
    """Builds batches (right padding) for one processor, length limit and pixel cap."""

    def __init__(self, processor: Any, max_length: int, max_image_pixels: int | None) -> None:
        if not getattr(processor, "chat_template", None):
            raise WorkbenchError("the model's processor has no chat template; fine-tuning needs "
                                 "an instruction model whose processor defines one")
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "right"
        self.max_length = max_length
        self.max_image_pixels = max_image_pixels
        self.image_token_ids = image_token_ids(processor)

    # ------------------------------------------------------------------ encoding

    def render(self, messages: Sequence[dict[str, Any]], generation_prompt: bool) -> str:
        return self.processor.apply_chat_template(list(messages), tokenize=False,
                                                  add_generation_prompt=generation_prompt)

    def load_images(self, sample: TrainingSample) -> list[Any]:
        return [prepare_image(path, self.max_image_pixels).image for path in sample.images]

    def encode_ids(self, text: str, images: list[Any]) -> list[int]:
        """Return the input ids of one rendered text with its images."""
        kwargs: dict[str, Any] = {"text": [text]}
        if images:
            kwargs["images"] = [images]
        return list(self.processor(**kwargs)["input_ids"][0])

    def assistant_spans(self, sample: TrainingSample, images: list[Any]) -> list[tuple[list[int], int | None]]:
        """Return ``(prompt ids, end)`` for each assistant reply (end None: to the end).

        The prompt ids encode the chat up to reply i with the generation prompt, so the
        reply starts at their length; the end is the length of the chat through reply i
        (None for the last message).
        """
        spans: list[tuple[list[int], int | None]] = []
        image_count = 0
        last = len(sample.messages) - 1
        for index, message in enumerate(sample.messages):
            if message["role"] == "assistant":
                before = images[:image_count]
                prompt = self.encode_ids(self.render(sample.messages[:index], True), before)
                end = None if index == last else len(self.encode_ids(
                    self.render(sample.messages[:index + 1], False), before))
                spans.append((prompt, end))
            image_count += sum(1 for part in message["content"] if part["type"] == "image")
        return spans

    # ------------------------------------------------------------------ batches

    def __call__(self, samples: Sequence[TrainingSample]) -> Batch:
        import torch

        kept, skipped = [], []
        for sample in samples:
            images = self.load_images(sample)
            spans = self.assistant_spans(sample, images)
            if len(spans[0][0]) >= self.max_length:
                log.warning("sample %s skipped: its prompt has %d tokens, more than the maximum "
                            "length %d", sample.key, len(spans[0][0]), self.max_length)
                skipped.append(sample.key)
                continue
            kept.append((sample, images, spans))
        if not kept:
            return Batch(inputs={}, labels=None, keys=[], skipped=skipped)

        kwargs: dict[str, Any] = {"text": [self.render(s.messages, False) for s, _, _ in kept],
                                  "return_tensors": "pt", "padding": True}
        if any(images for _, images, _ in kept):
            kwargs["images"] = [images for _, images, _ in kept]
        encoded = dict(self.processor(**kwargs))
        input_ids = encoded["input_ids"]
        labels = torch.full_like(input_ids, IGNORE_INDEX)
        for row, (sample, images, spans) in enumerate(kept):
            length = int(encoded["attention_mask"][row].sum())
            for prompt, end in spans:
                start = _reply_start(sample.key, prompt, input_ids[row].tolist())
                stop = length if end is None else min(end, length)
                labels[row, start:stop] = input_ids[row, start:stop]
        labels[encoded["attention_mask"] == 0] = IGNORE_INDEX
        for token_id in self.image_token_ids:
            labels[input_ids == token_id] = IGNORE_INDEX

        if input_ids.shape[1] > self.max_length:
            encoded, labels = self._truncate(encoded, labels)
        return Batch(inputs=encoded, labels=labels, keys=[s.key for s, _, _ in kept], skipped=skipped)

    def _truncate(self, encoded: dict[str, Any], labels: Any) -> tuple[dict[str, Any], Any]:
        """Cut sequence tensors to ``max_length`` columns (the ends of long replies)."""
        input_ids = encoded["input_ids"]
        tail = input_ids[:, self.max_length:]
        for token_id in self.image_token_ids:
            if bool((tail == token_id).any()):
                raise WorkbenchError(f"a sample has image tokens beyond the maximum length "
                                     f"{self.max_length}; raise the maximum length or lower the "
                                     "maximum image pixels")
        width = input_ids.shape[1]
        cut = {}
        for key, value in encoded.items():
            is_sequence = hasattr(value, "shape") and value.dim() >= 2 and value.shape[:2] == input_ids.shape
            cut[key] = value[:, :self.max_length] if is_sequence and value.shape[1] == width else value
        return cut, labels[:, :self.max_length]


def _reply_start(key: str, prompt: list[int], row: list[int]) -> int:
    # Templates render a prefix identically inside the full chat, but a tokenizer may merge
    # tokens across the boundary; then the reply starts where the two encodings diverge.
    common = 0
    for a, b in zip(prompt, row):
        if a != b:
            break
        common += 1
    if common != len(prompt):
        log.debug("sample %s: prompt encoding diverges at token %d of %d", key, common, len(prompt))
    return common


# Processor and tokenizer attributes that name image-related token ids across model families.
TOKEN_ID_ATTRIBUTES = ("image_token_id", "video_token_id", "vision_start_token_id",
                       "vision_end_token_id", "boi_token_id", "eoi_token_id",
                       "image_start_token_id", "image_end_token_id", "fake_image_token_id",
                       "global_image_token_id")


def image_token_ids(processor: Any) -> tuple[int, ...]:
    """Return the ids of image-related special tokens (image, video, vision start/end...)."""
    tokenizer = processor.tokenizer
    ids: set[int] = set()
    for owner in (processor, tokenizer):
        for name in TOKEN_ID_ATTRIBUTES:
            value = getattr(owner, name, None)
            if isinstance(value, int) and value >= 0:
                ids.add(value)
    for token in tokenizer.all_special_tokens:
        lowered = token.lower()
        if any(word in lowered for word in ("image", "img", "vision", "video")):
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id >= 0:
                ids.add(token_id)
    return tuple(sorted(ids))
