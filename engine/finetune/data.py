"""Training samples: reading JSONL files and database instruction sets, and the validation split.

A sample is a chat in the ``messages`` + ``images`` form shared by LLaMA-Factory and
ms-swift: user turns carry one ``<image>`` placeholder per image, in the order of the
``images`` list. Content may also be a list of ``{"type": "text"}`` and ``{"type": "image"}``
parts. Every sample is checked before training starts (roles, at least one assistant turn,
placeholder count, image files present), so a bad line fails the run at once with its
file and line number instead of hours later.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from engine.errors import InvalidInputError, NotFoundError
from engine.finetune.config import DATABASE, DatasetSpec

IMAGE_PLACEHOLDER = "<image>"
ROLES = ("system", "user", "assistant")
# Error messages list at most this many bad samples.
MAX_LISTED = 3


@dataclass(frozen=True)
class TrainingSample:
    """One chat with its images.

    ``messages`` hold content-part lists (``{"type": "image"}`` / ``{"type": "text"}``);
    ``images`` are absolute paths, one per image part, in order. ``key`` names the source
    (``file.jsonl:12`` or ``db:<sample id>``) for messages and the batch preview.
    """

    key: str
    messages: tuple[dict[str, Any], ...]
    images: tuple[Path, ...]


def load_samples(specs: Iterable[DatasetSpec], image_root: str | Path | None = None,
                 db: Any = None) -> list[TrainingSample]:
    """Read every dataset of ``specs`` in order; raise InvalidInputError on the first bad source."""
    samples: list[TrainingSample] = []
    for spec in specs:
        if spec.kind == DATABASE:
            if db is None:
                raise InvalidInputError(f"instruction set {spec.label()} is in the database; open "
                                        "the database to read it")
            samples.extend(read_instruction_set(db, spec, image_root))
        else:
            samples.extend(read_jsonl(Path(spec.path)))
    if not samples:
        raise InvalidInputError("the chosen datasets contain no samples")
    return samples


def read_jsonl(path: Path) -> list[TrainingSample]:
    """Read a JSONL file; relative image paths resolve against the file's folder."""
    if not path.is_file():
        raise InvalidInputError(f"dataset file {path} does not exist")
    samples, problems = [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            key = f"{path.name}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"line {number} is not JSON ({error.msg})")
                continue
            try:
                samples.append(to_sample(key, record, path.parent))
            except InvalidInputError as error:
                problems.append(f"line {number}: {error}")
    _raise_problems(str(path), problems)
    if not samples:
        raise InvalidInputError(f"dataset file {path} has no samples")
    return samples


def read_instruction_set(db: Any, spec: DatasetSpec, image_root: str | Path | None) -> list[TrainingSample]:
    """Read the InstructionSample rows of a pipeline run and split.

    Image paths stored relative (the pipeline's sample ids) resolve against ``image_root``,
    the folder the pipeline exported the images to.
    """
    from sqlalchemy import select

    from db.models import InstructionSample, PipelineRun

    with db.session() as session:
        run_id = session.scalar(select(PipelineRun.id).where(PipelineRun.name == spec.pipeline_run))
        if run_id is None:
            raise NotFoundError(f"pipeline run '{spec.pipeline_run}' does not exist")
        rows = session.execute(
            select(InstructionSample.id, InstructionSample.messages, InstructionSample.images)
            .where(InstructionSample.pipeline_run_id == run_id,
                   InstructionSample.split == spec.split)
            .order_by(InstructionSample.id)).all()
    if not rows:
        raise InvalidInputError(f"pipeline run '{spec.pipeline_run}' has no instruction samples in "
                                f"split '{spec.split}'")
    root = Path(image_root) if image_root else None
    samples, problems = [], []
    for row in rows:
        record = {"messages": row.messages, "images": row.images}
        try:
            samples.append(to_sample(f"db:{row.id}", record, root, source=spec.label()))
        except InvalidInputError as error:
            problems.append(f"sample {row.id}: {error}")
    _raise_problems(f"instruction set {spec.label()}", problems)
    return samples


def to_sample(key: str, record: Any, base: Path | None, source: str | None = None) -> TrainingSample:
    """Check one ``{"messages", "images"}`` record and return it as a TrainingSample."""
    if not isinstance(record, dict):
        raise InvalidInputError("expected an object with 'messages' and 'images'")
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInputError("'messages' is missing or empty")
    images = record.get("images") or []
    if not isinstance(images, list) or not all(isinstance(image, str) for image in images):
        raise InvalidInputError("'images' must be a list of image paths")

    parts_messages = []
    image_slots = 0
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidInputError(f"message {index} has no role among {', '.join(ROLES)}")
        parts = content_parts(message.get("content"), index)
        slots = sum(1 for part in parts if part["type"] == "image")
        if slots and message["role"] != "user":
            raise InvalidInputError(f"message {index} ({message['role']}) has an image; images go "
                                    "in user turns only")
        image_slots += slots
        parts_messages.append({"role": message["role"], "content": parts})
    if not any(message["role"] == "assistant" for message in parts_messages):
        raise InvalidInputError("there is no assistant turn to learn from")
    if parts_messages[-1]["role"] != "assistant":
        raise InvalidInputError("the last message is not an assistant turn")
    if image_slots != len(images):
        raise InvalidInputError(f"{image_slots} {IMAGE_PLACEHOLDER} placeholder(s) but "
                                f"{len(images)} image(s); use one placeholder per image")
    return TrainingSample(key, tuple(parts_messages), tuple(_resolve(image, base, source) for image in images))


def content_parts(content: Any, index: int) -> list[dict[str, Any]]:
    """Return ``content`` as text and image parts; ``<image>`` in text becomes an image part."""
    if isinstance(content, str):
        parts: list[dict[str, Any]] = []
        pieces = content.split(IMAGE_PLACEHOLDER)
        for position, piece in enumerate(pieces):
            if position:
                parts.append({"type": "image"})
            if piece:
                parts.append({"type": "text", "text": piece})
        return parts
    if isinstance(content, list):
        parts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "image":
                parts.append({"type": "image"})
            elif kind == "text" and isinstance(part.get("text"), str):
                parts.extend(content_parts(part["text"], index))
            else:
                raise InvalidInputError(f"message {index} has a content part that is neither "
                                        "text nor image")
        return parts
    raise InvalidInputError(f"message {index} has no text content")


def _resolve(image: str, base: Path | None, source: str | None) -> Path:
    path = Path(image)
    if not path.is_absolute():
        if base is None:
            raise InvalidInputError(f"image '{image}' is a relative path; pass the folder the "
                                    f"images of {source or 'this dataset'} were exported to as "
                                    "the image folder")
        path = base / path
    if not path.is_file():
        raise InvalidInputError(f"image {path} does not exist")
    return path


def _raise_problems(source: str, problems: list[str]) -> None:
    if not problems:
        return
    listed = "; ".join(problems[:MAX_LISTED])
    more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    raise InvalidInputError(f"{source}: {len(problems)} invalid sample(s): {listed}{more}")


def split_samples(samples: list[TrainingSample], val_split: float,
                  seed: int) -> tuple[list[TrainingSample], list[TrainingSample]]:
    """Hold out ``val_split`` of the samples (at least one when above 0) for validation.

    The choice is a seeded shuffle, so the same settings always give the same split; both
    parts keep the input order. Raises InvalidInputError when nothing would be left to train on.
    """
    if val_split <= 0:
        return list(samples), []
    count = max(1, round(len(samples) * val_split))
    if count >= len(samples):
        raise InvalidInputError(f"{len(samples)} sample(s) are too few for a validation split of "
                                f"{val_split}; add data or set the validation split to 0")
    order = list(range(len(samples)))
    random.Random(f"{seed}:validation").shuffle(order)
    held_out = set(order[:count])
    train = [sample for index, sample in enumerate(samples) if index not in held_out]
    val = [sample for index, sample in enumerate(samples) if index in held_out]
    return train, val
