"""Exporting a run's instruction samples as JSONL for LLaMA-Factory and ms-swift.

The export folder gets one ``instruction_<kind>_<split>.jsonl`` per kind and split (kinds
closed, closed_cot, open), with one ``{"messages", "images", "meta"}`` object per line. The
images go under their relative paths. ``dataset_info.json`` describes each file in
LLaMA-Factory's form (sharegpt formatting with ``messages`` and ``images`` columns), so the
folder can serve as LLaMA-Factory's dataset_dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from db.models import InstructionSample
from db.session import Database
from engine.errors import InvalidInputError
from engine.pipeline.export_images import write_sample_images
from engine.pipeline.files import write_text_atomic
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.pipeline.stage_generate import KINDS
from engine.pipeline.splits import TRAIN
from engine.progress import NullProgress, Progress

DATASET_INFO = "dataset_info.json"
TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
        "assistant_tag": "assistant"}


def instruction_file_name(kind: str, split: str) -> str:
    return f"instruction_{kind.replace('-', '_')}_{split}.jsonl"


def export_instructions(db: Database, run: RunInfo, samples: list[Sample], folder: Path,
                        kinds: tuple[str, ...] = KINDS, split: str = TRAIN,
                        progress: Progress | None = None) -> dict[str, Any]:
    """Write the run's ``split`` instruction samples of ``kinds`` under ``folder``.

    Raises InvalidInputError for an unknown kind, or when the run has no samples of the
    split (the generate and split stages have not run).
    """
    progress = progress or NullProgress()
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise InvalidInputError(f"instruction kind(s) {', '.join(unknown)} unknown; use "
                                f"{', '.join(KINDS)}")
    with db.session() as session:
        rows = session.execute(
            select(InstructionSample.id, InstructionSample.slice_id, InstructionSample.kind,
                   InstructionSample.question_type, InstructionSample.messages,
                   InstructionSample.images)
            .where(InstructionSample.pipeline_run_id == run.id,
                   InstructionSample.split == split, InstructionSample.kind.in_(kinds))
            .order_by(InstructionSample.id)).all()
    if not rows:
        raise InvalidInputError(f"pipeline run '{run.name}' has no {split} instruction samples "
                                f"of kind {', '.join(kinds)}; run the generate and split stages")

    folder.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", run.name).strip("_").lower() or "neuroonco"
    info: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for kind in kinds:
        lines = [_line(row) for row in rows if row.kind == kind]
        if not lines:
            continue
        name = instruction_file_name(kind, split)
        write_text_atomic(folder / name, "".join(lines))
        info[f"{prefix}_{kind.replace('-', '_')}_{split}"] = {
            "file_name": name, "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"}, "tags": dict(TAGS)}
        counts[kind] = len(lines)
    write_text_atomic(folder / DATASET_INFO, json.dumps(info, indent=2) + "\n")

    exported_ids = {row.slice_id for row in rows}
    images = write_sample_images(db, [s for s in samples if s.slice_id in exported_ids], folder,
                                 progress)
    return {"folder": str(folder), "split": split, "files": counts, "images": images}


def _line(row) -> str:  # noqa: ANN001 - a result row
    record = {"messages": row.messages, "images": row.images,
              "meta": {"id": row.id, "kind": row.kind, "question_type": row.question_type}}
    return json.dumps(record, ensure_ascii=False) + "\n"
