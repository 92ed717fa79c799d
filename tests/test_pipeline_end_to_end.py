"""The pipeline end to end on databases built from real images (Colin27 T1, drawn masks)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from conftest import MRICRON_TEMPLATES, run_cli
from db.models import Case, InstructionSample, Series, SilverLabel, Slice
from db.session import open_database
from engine.bench.importer import import_benchmark
from engine.bench.stats import benchmark_stats
from engine.errors import InvalidInputError
from engine.jobs import queue
from engine.jobs.worker import run_job
from engine.pipeline.export_benchmark import CLOSED_FILE, OPEN_FILE, STATS_FILE
from engine.pipeline.model_calls import ModelUnavailableError
from engine.pipeline.runs import get_run, open_run, read_stats
from engine.pipeline.stages import StageOptions, run_samples, run_stages
from pipeline_data import build_mm_tree, build_volume_dataset

MM_COUNTS = {"glioma": 40, "meningioma": 30, "pituitary": 20, "tumor": 10, "healthy": 20}
# Chi-square critical value for 4 degrees of freedom at p = 0.001.
CHI2_4DF_999 = 18.47


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    if not (MRICRON_TEMPLATES / "ch2.nii.gz").exists():
        pytest.skip("Debian package mricron-data not installed")
    folder = tmp_path_factory.mktemp("pipeline")
    url = f"sqlite:///{folder / 'workbench.sqlite'}"
    db = open_database(url)
    volumes = build_volume_dataset(db, folder / "masks", MRICRON_TEMPLATES)
    images = build_mm_tree(db, folder / "mm", MRICRON_TEMPLATES, MM_COUNTS)
    yield {"db": db, "url": url, "folder": folder, "volumes": volumes, "images": images}
    db.dispose()


def instruction_rows(db, run_id):  # noqa: ANN001
    with db.session() as session:
        return session.execute(
            select(InstructionSample.slice_id, InstructionSample.kind, InstructionSample.split,
                   InstructionSample.question_type, InstructionSample.meta, Case.id,
                   Case.tumour_type)
            .join(Slice, Slice.id == InstructionSample.slice_id)
            .join(Series, Series.id == Slice.series_id)
            .join(Case, Case.id == Series.case_id)
            .where(InstructionSample.pipeline_run_id == run_id)).all()


def test_model_free_run_and_benchmark_import(data, tmp_path):
    out = tmp_path / "out"
    result = run_cli(data["url"], "pipeline", "run", "--dataset", "mm2d", "--name", "free",
                     "--stages", "description,generate,split,export", "--benchmark-share", "0.5",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "pipeline run 'free' on dataset 'mm2d'" in result.stdout

    folder = out / "benchmark"
    exported = json.loads((folder / STATS_FILE).read_text())
    report = import_benchmark(data["db"], folder / CLOSED_FILE, open_path=folder / OPEN_FILE,
                              data_root=folder, name="generated")
    assert report.created
    assert report.skipped == {}
    assert report.images.missing_count == 0
    assert report.duplicates == []
    assert report.offered_originals == []

    stats = benchmark_stats(data["db"], "generated")
    for key in ("items", "questions", "traps", "binary", "five_option", "open_items",
                "open_questions"):
        assert stats[key] == exported[key], key
    assert stats["by_type"] == exported["by_type"]
    assert stats["gold_letters"] == exported["gold_letters"]
    assert stats["open_by_type"] == exported["open_by_type"]
    assert stats["five_option"] >= 250

    assert abs(stats["traps"] / stats["five_option"] - 0.2) <= 0.02
    gold = Counter()
    for item in json.loads((folder / CLOSED_FILE).read_text()):
        gold.update(pair["answer"] for pair in item["vqa_pairs"] if len(pair["options"]) == 5)
    expected = sum(gold.values()) / 5
    assert sum((gold[letter] - expected) ** 2 / expected for letter in "ABCDE") < CHI2_4DF_999


def test_exported_benchmark_honours_trap_share_and_seed(data, tmp_path):
    out = tmp_path / "bench"
    result = run_cli(data["url"], "pipeline", "run", "--dataset", "mm2d", "--name", "traps",
                     "--stages", "description,generate,split", "--benchmark-share", "0.6")
    assert result.returncode == 0, result.stderr
    result = run_cli(data["url"], "export", "benchmark", "--run", "traps", "--out", str(out),
                     "--trap-share", "0.3", "--seed", "11", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert abs(stats["traps"] / stats["five_option"] - 0.3) <= 0.02
    assert stats["seed"] == 11
    closed = json.loads((out / CLOSED_FILE).read_text())
    for item in closed:
        for pair in item["vqa_pairs"]:
            assert pair["question_type"] in ("diagnosis", "modality", "size", "shape", "spread",
                                             "location")
            if pair.get("meta_trap"):
                assert pair["answer"] == "E"
                assert pair["meta_original_answer"] not in pair["options"].values()
        assert (out / item["image_path"]).is_file()


def test_splits_keep_cases_apart(data):
    run = open_run(data["db"], "splits", "mm2d", {"benchmark_share": 0.3, "seed": 7})
    run_stages(data["db"], run.name, ["description", "generate", "split"])
    rows = instruction_rows(data["db"], run.id)
    splits_by_case = defaultdict(set)
    for row in rows:
        splits_by_case[row.id].add(row.split)
    assert all(len(splits) == 1 for splits in splits_by_case.values())
    used = {split for splits in splits_by_case.values() for split in splits}
    assert used == {"train", "benchmark"}

    benchmark_cases = Counter(row.tumour_type for row in {(r.id, r.tumour_type): r for r in rows
                                                          if r.split == "benchmark"}.values())
    for tumour_type, count in MM_COUNTS.items():
        assert abs(benchmark_cases[tumour_type] - 0.3 * count) <= 1, tumour_type
    assert sum(benchmark_cases.values()) == round(0.3 * sum(MM_COUNTS.values()))


def test_volume_run_writes_descriptions_images_and_jsonl(data, tmp_path):
    db = data["db"]
    run = open_run(db, "volumes", "volumes", {"benchmark_share": 0.4})
    results = run_stages(db, run.name, ["description", "generate", "split", "export"],
                         options=StageOptions(out=tmp_path))
    assert results["description"] == {"samples": 6, "with_morphology": 5, "without_mask": 1}

    samples = run_samples(db, run)
    with db.session() as session:
        texts = dict(session.execute(select(Slice.id, Slice.coarse_description)
                                     .where(Slice.id.in_([s.slice_id for s in samples]))).all())
    glioma = next(s for s in samples if s.case == "vol-glioma-1")
    assert texts[glioma.slice_id].startswith("A T1 brain MRI scan showing signs of Glioma.")
    assert "The mass is" in texts[glioma.slice_id]
    healthy = next(s for s in samples if s.case == "vol-healthy-1")
    assert healthy.sample_id == f"healthy/16_t1/vol-healthy-1_{healthy.slice_index}.png"
    assert "appears normal" in texts[healthy.slice_id]

    for folder in (tmp_path / "instructions", tmp_path / "benchmark"):
        for sample in samples:
            image_path = folder / sample.sample_id
            if not image_path.exists():
                continue
            image = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)
            assert image.dtype == np.uint8
            assert image.shape == (sample.height, sample.width)
            if sample.mask is not None:
                mask_path = str(image_path).replace(".png", "_mask.png")
                mask = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
                assert set(np.unique(mask)) == {0, 255}
                assert int((mask > 0).sum()) == sample.mask.area_px

    info = json.loads((tmp_path / "instructions" / "dataset_info.json").read_text())
    assert info
    for entry in info.values():
        assert entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "messages", "images": "images"}
        lines = (tmp_path / "instructions" / entry["file_name"]).read_text().splitlines()
        assert lines
        for line in lines:
            record = json.loads(line)
            user, assistant = record["messages"]
            assert user["role"] == "user"
            assert user["content"].startswith("<image>\n")
            assert assistant["role"] == "assistant"
            assert assistant["content"]
            assert (tmp_path / "instructions" / record["images"][0]).is_file()
            if "closed_cot" in entry["file_name"]:
                assert assistant["content"].startswith("Final: ")
                assert "\nExplanation: " in assistant["content"]
            elif "closed" in entry["file_name"]:
                assert assistant["content"] in ("A", "B", "C", "D", "E")


def test_unregistered_model_stops_the_stage(data):
    result = run_cli(data["url"], "pipeline", "run", "--dataset", "volumes", "--name", "nomodel",
                     "--stages", "description,extract-a", "--model-a", "qwen3-vl")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: model 'qwen3-vl' for run A is not registered; add it with 'neuroonco models "
        "add' (see 'neuroonco models list') or pass replay:<file.jsonl>"]
    with pytest.raises(ModelUnavailableError, match="'qwen3-vl' for run A is not registered"):
        run_stages(data["db"], "nomodel", ["extract-a"])
    run = get_run(data["db"], "nomodel")
    with data["db"].session() as session:
        stored = session.scalars(select(SilverLabel.id)
                                 .where(SilverLabel.pipeline_run_id == run.id)).all()
    assert stored == []
    stats = read_stats(data["db"], run.id)
    assert "description" in stats
    assert "extract-a" not in stats


def test_export_stage_needs_a_folder_and_generation(data, tmp_path):
    with pytest.raises(InvalidInputError, match="needs an output folder"):
        run_stages(data["db"], open_run(data["db"], "nofolder", "mm2d").name, ["export"])
    with pytest.raises(InvalidInputError, match="no instruction samples"):
        run_stages(data["db"], "nofolder", ["split"])
    result = run_cli(data["url"], "export", "benchmark", "--run", "nofolder", "--out",
                     str(tmp_path))
    assert result.returncode == 1
    assert "has no benchmark questions" in result.stderr


def test_run_config_is_fixed_at_creation(data):
    open_run(data["db"], "fixed", "mm2d", {"seed": 3})
    with pytest.raises(InvalidInputError, match="was created with seed 3, not 4"):
        open_run(data["db"], "fixed", None, {"seed": 4})
    with pytest.raises(InvalidInputError, match="belongs to dataset 'mm2d'"):
        open_run(data["db"], "fixed", "volumes")
    assert open_run(data["db"], "fixed", None, {"models": {"run_a": "a"}}).model("run_a") == "a"


def test_generation_resumes_and_restarts(data):
    db = data["db"]
    run = open_run(db, "resume", "mm2d")
    run_stages(db, run.name, ["description", "generate"])
    with db.session() as session:
        first = set(session.scalars(select(InstructionSample.id)
                                    .where(InstructionSample.pipeline_run_id == run.id)))
    run_stages(db, run.name, ["generate"])
    with db.session() as session:
        again = set(session.scalars(select(InstructionSample.id)
                                    .where(InstructionSample.pipeline_run_id == run.id)))
    assert again == first  # same inputs: committed samples are skipped

    with db.session(write=True) as session:
        session.execute(InstructionSample.__table__.delete().where(
            InstructionSample.id.in_(sorted(first)[:40])))
    run_stages(db, run.name, ["generate"])
    with db.session() as session:
        refilled = set(session.scalars(select(InstructionSample.id)
                                       .where(InstructionSample.pipeline_run_id == run.id)))
    assert len(refilled) < len(first)  # slices with rows left are not written twice
    assert refilled >= first - set(sorted(first)[:40])


def test_pipeline_job_runs_stages(data):
    db = data["db"]
    run = open_run(db, "job", "volumes")
    job_id = queue.submit(db, "pipeline.run", {"run": run.name,
                                                "stages": ["description", "generate"]})
    queue.claim_next(db, "test-worker")
    assert run_job(db, job_id) == "succeeded"
    assert set(read_stats(db, run.id)) >= {"description", "generate"}

    failing = queue.submit(db, "pipeline.extract-a", {"run": run.name})
    queue.claim_next(db, "test-worker")
    assert run_job(db, failing) == "failed"
    assert "no model is set for run A" in queue.get_job(db, failing).message


# --------------------------------------------------------------------------- model stages

def reply(lesion=True, modality="T1CE", location="Center-Left", fence=False, think=False, **signs):
    record = {"what_where_why": "rim bright, left, contrast", "lesion_found": lesion,
              "modality": modality, "location": location if lesion else None}
    for sign in ("shape", "margins", "texture", "enhancement", "oedema", "signal_intensity"):
        record[sign] = signs.get(sign)
    text = json.dumps(record, indent=1)
    if fence:
        text = f"Here is the record.\n```json\n{text}\n```"
    if think:
        text = f"<think>Looking at the {{draft}} slice first.</think>\n{text}"
    return text


def audit_reply(decision="ACCEPT", **actions):
    return json.dumps({"decision": decision, "reason": None if decision == "ACCEPT" else
                       "no lesion where the labels describe one", "actions": actions})


def write_replies(path: Path, replies: dict[str, str]) -> None:
    path.write_text("".join(json.dumps({"key": key, "output": output}) + "\n"
                            for key, output in replies.items()))


def test_full_pipeline_with_recorded_replies(data, tmp_path):
    db = data["db"]
    run = open_run(db, "full", "volumes", {"benchmark_share": 0.5})
    ids = {sample.case: sample.sample_id for sample in run_samples(db, run)}
    run_a = {
        ids["vol-glioma-1"]: reply(fence=True, shape="Round", margins="Spiculated",
                                   texture="Homogeneous", enhancement="Ring"),
        ids["vol-glioma-2"]: reply(shape="Round", texture="Heterogeneous", enhancement="Ring",
                                   signal_intensity="Hyperintense"),
        ids["vol-glioma-3"]: reply(shape="Lobulated"),
        ids["vol-meningioma-1"]: reply(modality="T1", shape="Round"),
        ids["vol-meningioma-2"]: reply(modality="T2", oedema="Mild", shape="Oval"),
        ids["vol-healthy-1"]: reply(lesion=False),
    }
    run_b = {
        ids["vol-glioma-1"]: reply(think=True, shape="Round", margins="Ill-defined",
                                   texture="Homogeneous", enhancement="Ring"),
        ids["vol-glioma-2"]: reply(modality="T1", shape="Oval", texture="Heterogeneous",
                                   signal_intensity="Isointense"),
        ids["vol-glioma-3"]: reply(lesion=False),
        ids["vol-meningioma-1"]: reply(modality="T2", shape="Round"),
        ids["vol-meningioma-2"]: reply(modality="FLAIR", oedema="Extensive", shape="Oval"),
        ids["vol-healthy-1"]: "```json\n{\"lesion_found\": false, \"modality\": \"T1\"}\n```",
    }
    audit = {
        ids["vol-glioma-1"]: audit_reply(shape="DOWNGRADE"),
        ids["vol-glioma-2"]: "Audit:\n" + audit_reply(texture="ERASE"),
        ids["vol-meningioma-2"]: audit_reply("REJECT"),
    }
    for name, replies in (("a", run_a), ("b", run_b), ("audit", audit)):
        write_replies(tmp_path / f"{name}.jsonl", replies)

    result = run_cli(data["url"], "pipeline", "run", "--name", "full", "--stages", "all",
                     "--model-a", f"replay:{tmp_path / 'a.jsonl'}",
                     "--model-b", f"replay:{tmp_path / 'b.jsonl'}",
                     "--auditor", f"replay:{tmp_path / 'audit.jsonl'}",
                     "--benchmark-share", "0.5", "--out", str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    stages = json.loads(result.stdout)["stages"]

    assert stages["extract-a"]["statuses"] == {"ok": 6}
    assert stages["extract-b"]["statuses"] == {"ok": 6}
    fuse = stages["fuse"]
    assert (fuse["kept"], fuse["healthy"], fuse["dropped"]) == (3, 1, 2)
    assert fuse["dropped_single_lesion"] == 1
    assert fuse["dropped_modality_conflict"] == 1
    assert fuse["conflicting"] == 3  # glioma-2, meningioma-1 (dropped) and meningioma-2
    assert stages["audit"]["statuses"] == {"accepted": 2, "rejected": 1}

    with db.session() as session:
        labels = {(row.stage, row.slice_id): row for row in session.scalars(
            select(SilverLabel).where(SilverLabel.pipeline_run_id == run.id))}
    samples = {sample.case: sample for sample in run_samples(db, run)}
    g1, g2, m2 = (samples[name].slice_id for name in ("vol-glioma-1", "vol-glioma-2",
                                                      "vol-meningioma-2"))
    assert labels[("run_a", g1)].fields["margins"] is None
    assert any("margins 'Spiculated'" in note for note in labels[("run_a", g1)].notes)
    # T1 against T1CE gives T1CE, but run B gave no enhancement, so it falls back to T1.
    assert labels[("fused", g2)].fields["modality"] == "T1"
    assert labels[("fused", g2)].fields["enhancement"] is None
    assert labels[("fused", g2)].fields["shape"] is None
    assert labels[("fused", g2)].fields["signal_intensity"] == "Isointense"
    assert labels[("fused", m2)].fields["modality"] == "FLAIR"
    assert labels[("fused", m2)].fields["oedema"] == "Present"
    assert labels[("audited", g1)].fields["shape"] == "Round/Oval"
    assert labels[("audited", g2)].fields["texture"] is None
    assert labels[("audited", m2)].status == "rejected"

    rows = instruction_rows(db, run.id)
    assert m2 not in {row.slice_id for row in rows}
    g1_types = {row.question_type for row in rows if row.slice_id == g1 and row.kind == "closed"}
    assert {"texture", "enhancement"} <= g1_types
    assert stages["generate"]["label_stage"] == "audited"
    assert stages["generate"]["rejected_by_audit"] == 1

    air = run_cli(data["url"], "pipeline", "air", "full", "--json")
    assert air.returncode == 0, air.stderr
    values = json.loads(air.stdout)["air"]
    assert set(values) == {"run_a", "run_b", "fused", "audited"}
    assert values["run_a"]["positive"] == 5
    assert values["fused"]["positive"] == 3
    assert values["audited"]["positive"] == 2


def test_extraction_resumes_only_failed_samples(data, tmp_path):
    db = data["db"]
    run = open_run(db, "partial", "volumes")
    run_stages(db, run.name, ["description"])
    ids = sorted(sample.sample_id for sample in run_samples(db, run))
    write_replies(tmp_path / "first.jsonl", {key: reply(shape="Round") for key in ids[:4]})
    write_replies(tmp_path / "second.jsonl", {key: reply(shape="Oval") for key in ids})

    open_run(db, run.name, None, {"models": {"run_a": f"replay:{tmp_path / 'first.jsonl'}"}})
    first = run_stages(db, run.name, ["extract-a"])["extract-a"]
    assert first["statuses"] == {"error": 2, "ok": 4}

    from engine.pipeline.model_calls import ReplayModel

    options = StageOptions(callers={"run_a": ReplayModel(tmp_path / "second.jsonl")})
    second = run_stages(db, run.name, ["extract-a"], options=options)["extract-a"]
    assert second["statuses"] == {"ok": 6}
    with db.session() as session:
        shapes = Counter(row.fields["shape"] for row in session.scalars(
            select(SilverLabel).where(SilverLabel.pipeline_run_id == run.id)))
    assert shapes == {"Round": 4, "Oval": 2}


def test_stage_dump(data, tmp_path):
    run = open_run(data["db"], "dump", "volumes")
    run_stages(data["db"], run.name, ["description"])
    out = tmp_path / "descriptions.json"
    result = run_cli(data["url"], "pipeline", "dump", "dump", "description", "--out", str(out))
    assert result.returncode == 0, result.stderr
    entries = json.loads(out.read_text())
    assert len(entries) == 6
    assert all(entry["coarse_description"].startswith("A T1 brain MRI scan") for entry in entries)
    listing = run_cli(data["url"], "pipeline", "list", "--json")
    assert "dump" in {entry["name"] for entry in json.loads(listing.stdout)}


def test_paraphrased_stems_pass_the_leak_check(data, tmp_path):
    from engine.pipeline.model_calls import ReplayModel

    db = data["db"]
    run = open_run(db, "paraphrase", "volumes")
    samples = {sample.case: sample for sample in run_samples(db, run)}
    glioma = samples["vol-glioma-1"].sample_id
    replies = {
        f"{glioma}#modality": '{"question": "Which acquisition sequence produced this slice?"}',
        f"{glioma}#diagnosis": '{"question": "Which glioma subtype is shown?"}',  # leaks
        f"{glioma}#size": "I would rather not.",
    }
    write_replies(tmp_path / "paraphrase.jsonl", replies)
    options = StageOptions(callers={"paraphrase": ReplayModel(tmp_path / "paraphrase.jsonl")})
    result = run_stages(db, run.name, ["description", "generate"], options=options)["generate"]
    assert result["paraphrased"] == 1

    stems = {row.question_type: row.meta["stem"] for row in instruction_rows(db, run.id)
             if row.slice_id == samples["vol-glioma-1"].slice_id and row.kind == "closed"}
    assert stems["modality"] == "Which acquisition sequence produced this slice?"
    assert "glioma" not in stems["diagnosis"].lower()
    assert stems["size"] in ("What is the size category of the lesion?",
                             "How would you grade the extent of the lesion on this slice?")
