"""Exported instruction data is training data: the fine-tuning code reads it and builds batches.

A pipeline run with recorded model replies goes through every stage on a small 2D dataset of
Colin27 slices. Its JSONL export and its stored instruction set are then read with the
fine-tuning readers, and one batch of each instruction kind goes through the training
collator with the tiny random LLaVA.
"""

from __future__ import annotations

import json

import pytest

from conftest import MRICRON_TEMPLATES
from db.session import open_database
from engine.finetune.collator import IGNORE_INDEX, ChatCollator
from engine.finetune.config import DatasetSpec
from engine.finetune.data import load_samples, read_jsonl
from engine.finetune.model_setup import load_processor
from engine.inference.images import DEFAULT_MAX_PIXELS
from engine.pipeline.export_instructions import DATASET_INFO, instruction_file_name
from engine.pipeline.runs import open_run
from engine.pipeline.stage_generate import KINDS
from engine.pipeline.stages import (BENCHMARK_FOLDER, INSTRUCTIONS_FOLDER, StageOptions,
                                   run_samples, run_stages)
from inference_fixtures import tiny_models  # noqa: F401 - fixture
from pipeline_data import build_mm_tree
from pipeline_replies import write_replay_plan

pytestmark = pytest.mark.slow

COUNTS = {"glioma": 5, "meningioma": 4, "pituitary": 3, "healthy": 4}
RUN = "training-link"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Run every stage with recorded replies; yield the database, folder and stage results."""
    if not (MRICRON_TEMPLATES / "ch2.nii.gz").exists():
        pytest.skip("Debian package mricron-data not installed")
    folder = tmp_path_factory.mktemp("training-link")
    db = open_database(f"sqlite:///{folder / 'workbench.sqlite'}")
    build_mm_tree(db, folder / "mm", MRICRON_TEMPLATES, COUNTS)
    run = open_run(db, RUN, "mm2d", {"benchmark_share": 0.3})
    plan = write_replay_plan(run_samples(db, run), folder / "replies")
    open_run(db, RUN, None, {"models": {"run_a": plan.model("a"), "run_b": plan.model("b"),
                                        "audit": plan.model("audit")}})
    results = run_stages(db, RUN, ["all"], options=StageOptions(out=folder / "out"))
    yield {"db": db, "out": folder / "out" / INSTRUCTIONS_FOLDER,
           "benchmark": folder / "out" / BENCHMARK_FOLDER, "results": results}
    db.dispose()


def test_jsonl_files_load_with_counts_of_export(exported):
    stats = exported["results"]["export"]["instructions"]
    folder = exported["out"]
    assert stats["split"] == "train"
    assert set(stats["files"]) == set(KINDS)

    info = json.loads((folder / DATASET_INFO).read_text())
    assert sorted(entry["file_name"] for entry in info.values()) == sorted(
        instruction_file_name(kind, "train") for kind in KINDS)
    for kind, count in stats["files"].items():
        samples = read_jsonl(folder / instruction_file_name(kind, "train"))
        assert len(samples) == count, kind
        assert all(sample.images[0].is_file() for sample in samples), kind

    specs = [DatasetSpec.parse(str(folder / instruction_file_name(kind, "train")))
             for kind in KINDS]
    assert len(load_samples(specs)) == sum(stats["files"].values())


def test_database_instruction_set_matches_export(exported):
    db, folder = exported["db"], exported["out"]
    split_stats = exported["results"]["split"]["instructions"]

    stored = load_samples([DatasetSpec.parse(f"db:{RUN}:train")], image_root=folder, db=db)
    assert len(stored) == sum(split_stats["train"].values())
    from_files = [sample for kind in KINDS
                  for sample in read_jsonl(folder / instruction_file_name(kind, "train"))]
    assert sorted(json.dumps(s.messages) for s in stored) == sorted(
        json.dumps(s.messages) for s in from_files)
    assert {s.images for s in stored} == {s.images for s in from_files}

    # The benchmark split's images are exported with the benchmark.
    benchmark = load_samples([DatasetSpec.parse(f"db:{RUN}:benchmark")],
                             image_root=exported["benchmark"], db=db)
    assert len(benchmark) == sum(split_stats["benchmark"].values())


def test_collator_learns_only_replies(exported, tiny_models):  # noqa: F811
    folder = exported["out"]
    samples = [read_jsonl(folder / instruction_file_name(kind, "train"))[0] for kind in KINDS]
    processor = load_processor(tiny_models.llava())
    collator = ChatCollator(processor, max_length=1024, max_image_pixels=DEFAULT_MAX_PIXELS)

    batch = collator(samples)

    assert batch.skipped == []
    assert batch.keys == [sample.key for sample in samples]
    tokenizer = processor.tokenizer
    input_ids, labels = batch.inputs["input_ids"], batch.labels
    for row, sample in enumerate(samples):
        ids, row_labels = input_ids[row].tolist(), labels[row].tolist()
        learned_ids = [i for i, label in zip(ids, row_labels) if label != IGNORE_INDEX]
        learned = tokenizer.decode(learned_ids)
        reply = sample.messages[-1]["content"][0]["text"]
        assert learned == f"{reply}{tokenizer.eos_token}\n", sample.key
        question = sample.messages[0]["content"][-1]["text"]
        assert question.strip() not in learned, sample.key
    image_positions = input_ids == processor.image_token_id
    assert int(image_positions.sum()) > 0
    assert bool((labels[image_positions] == IGNORE_INDEX).all())
    assert bool((labels[batch.inputs["attention_mask"] == 0] == IGNORE_INDEX).all())
