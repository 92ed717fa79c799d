"""Exporting a run's benchmark split as MM-NeuroOnco v1.0 closed and open benchmark files.

The benchmark contains the six v1.0 question types (diagnosis, modality, size, shape, spread,
location) from metadata and mask semantics only, never from silver labels, so every gold
answer is ground truth. The closed questions are laid out again with the export's trap
share and seed (:mod:`engine.pipeline.traps`), so the trap share and the gold letters are
balanced within the benchmark itself.

The folder gets ``benchmark_closed.json``, ``benchmark_open.json`` (when there are open
questions), ``benchmark_stats.json`` and the images, so ``neuroonco bench import --closed
<folder>/benchmark_closed.json --open <folder>/benchmark_open.json --data-root <folder>``
imports it with every image present.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from db.models import InstructionSample
from db.session import Database
from engine.errors import InvalidInputError
from engine.pipeline.export_images import write_sample_images
from engine.pipeline.files import write_text_atomic
from engine.pipeline.questions import BENCHMARK_TYPES, MASK, METADATA, ClosedQuestion
from engine.pipeline.runs import RunInfo
from engine.pipeline.samples import Sample
from engine.pipeline.splits import BENCHMARK
from engine.pipeline.stage_generate import CLOSED, OPEN
from engine.pipeline.traps import LaidOut, lay_out
from engine.progress import NullProgress, Progress

CLOSED_FILE = "benchmark_closed.json"
OPEN_FILE = "benchmark_open.json"
STATS_FILE = "benchmark_stats.json"
TRUSTED_SOURCES = (METADATA, MASK)


def export_benchmark(db: Database, run: RunInfo, samples: list[Sample], folder: Path,
                     trap_share: float | None = None, seed: int | None = None,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Write the run's benchmark split under ``folder``; return the benchmark's stats.

    ``trap_share`` and ``seed`` default to the run's. Raises InvalidInputError for a share
    outside 0-1 and when the run has no benchmark questions.
    """
    progress = progress or NullProgress()
    share = float(run.config["trap_share"] if trap_share is None else trap_share)
    seed = int(run.config["seed"] if seed is None else seed)
    if not 0.0 <= share <= 1.0:
        raise InvalidInputError(f"trap share {share} must be between 0 and 1 (0.2 for 20%)")

    questions, opened = _benchmark_rows(db, run)
    if not questions:
        raise InvalidInputError(f"pipeline run '{run.name}' has no benchmark questions; run the "
                                "generate and split stages (a benchmark share above 0)")
    laid_out = lay_out(questions, share, seed)
    closed_items, item_ids = _closed_items(laid_out)
    open_items = _open_items(opened, item_ids)

    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / CLOSED_FILE, json.dumps(closed_items, indent=1, ensure_ascii=False))
    if open_items:
        write_text_atomic(folder / OPEN_FILE, json.dumps(open_items, indent=1, ensure_ascii=False))
    stats = benchmark_file_stats(closed_items, open_items)
    stats.update({"trap_share_setting": share, "seed": seed, "run": run.name})
    write_text_atomic(folder / STATS_FILE, json.dumps(stats, indent=2) + "\n")

    exported_ids = set(item_ids)
    stats["images"] = write_sample_images(db, [s for s in samples if s.sample_id in exported_ids],
                                          folder, progress)
    return stats


def _benchmark_rows(db: Database, run: RunInfo) -> tuple[list[ClosedQuestion], dict[str, list]]:
    with db.session() as session:
        rows = session.execute(
            select(InstructionSample.kind, InstructionSample.meta)
            .where(InstructionSample.pipeline_run_id == run.id,
                   InstructionSample.split == BENCHMARK,
                   InstructionSample.kind.in_((CLOSED, OPEN)))).all()
    questions = [ClosedQuestion.from_meta(meta) for kind, meta in rows
                 if kind == CLOSED and meta["source"] in TRUSTED_SOURCES
                 and meta["question_type"] in BENCHMARK_TYPES]
    order = {name: index for index, name in enumerate(BENCHMARK_TYPES)}
    questions.sort(key=lambda question: (question.sample_id, order[question.question_type]))
    opened: dict[str, list] = defaultdict(list)
    for kind, meta in rows:
        if kind == OPEN:
            opened[meta["sample_id"]].append(meta)
    return questions, opened


def _closed_items(laid_out: list[LaidOut]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    by_sample: dict[str, list[LaidOut]] = defaultdict(list)
    for item in laid_out:
        by_sample[item.question.sample_id].append(item)
    items, ids = [], {}
    for number, sample_id in enumerate(sorted(by_sample), start=1):
        ids[sample_id] = number
        items.append({"id": number, "image_path": sample_id,
                      "vqa_pairs": [_pair(item) for item in by_sample[sample_id]]})
    return items, ids


def _pair(item: LaidOut) -> dict[str, Any]:
    pair = {"question_type": item.question.question_type, "question": item.question.stem,
            "options": item.options, "answer": item.gold}
    if item.is_trap:
        pair["meta_trap"] = True
        pair["meta_original_answer"] = item.original_answer
    return pair


def _open_items(opened: dict[str, list], item_ids: dict[str, int]) -> list[dict[str, Any]]:
    items = []
    for sample_id in sorted(set(opened) & set(item_ids), key=item_ids.__getitem__):
        number = item_ids[sample_id]
        pairs = [{"question_id": f"{number}_q{meta['order']}",
                  "question_type": meta["question_type"], "question": meta["stem"],
                  "reference_answer": meta["reference_answer"],
                  "eval_keywords": list(meta["keywords"])}
                 for meta in sorted(opened[sample_id], key=lambda meta: meta["order"])]
        items.append({"id": number, "image_path": sample_id, "qa_pairs": pairs})
    return items


def benchmark_file_stats(closed: list[dict[str, Any]],
                         opened: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the counts of exported benchmark items in the form of ``bench stats``."""
    pairs = [pair for item in closed for pair in item["vqa_pairs"]]
    five = [pair for pair in pairs if len(pair["options"]) == 5]
    traps = [pair for pair in pairs if pair.get("meta_trap")]
    open_pairs = [pair for item in opened for pair in item["qa_pairs"]]
    return {
        "items": len(closed),
        "questions": len(pairs),
        "by_type": dict(Counter(pair["question_type"] for pair in pairs).most_common()),
        "traps": len(traps),
        "traps_by_type": dict(Counter(pair["question_type"] for pair in traps).most_common()),
        "binary": sum(len(pair["options"]) == 2 for pair in pairs),
        "five_option": len(five),
        "trap_share": len(traps) / len(five) if five else None,
        "gold_letters": dict(sorted(Counter(pair["answer"] for pair in pairs).items())),
        "open_items": len(opened),
        "open_questions": len(open_pairs),
        "open_by_type": dict(Counter(pair["question_type"] for pair in open_pairs).most_common()),
        "by_class": dict(Counter(item["image_path"].split("/")[0]
                                 for item in closed).most_common()),
    }
