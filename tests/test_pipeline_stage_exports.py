"""Stage dumps and ``neuroonco export instructions`` on a run driven by recorded replies.

The run goes through every stage but export on a small 2D dataset of Colin27 slices. The
replay plan decides each sample's outcome (healthy, dropped by fusion, rejected or accepted
by the audit), so the dumps can be checked sample by sample.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from conftest import MRICRON_TEMPLATES, run_cli
from db.models import InstructionSample
from db.session import open_database
from engine.pipeline.export_instructions import DATASET_INFO, instruction_file_name
from engine.pipeline.runs import open_run, read_stats
from engine.pipeline.stage_dump import dump_stage
from engine.pipeline.stages import run_samples, run_stages
from pipeline_data import build_mm_tree
from pipeline_replies import audit_reply, write_replay_plan

COUNTS = {"glioma": 5, "meningioma": 3, "pituitary": 3, "healthy": 3}
RUN = "dumps"
STAGES = ["description", "extract-a", "extract-b", "fuse", "audit", "generate", "split"]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """Run every stage but export with recorded replies; yield the run and its replay plan."""
    if not (MRICRON_TEMPLATES / "ch2.nii.gz").exists():
        pytest.skip("Debian package mricron-data not installed")
    folder = tmp_path_factory.mktemp("stage-exports")
    url = f"sqlite:///{folder / 'workbench.sqlite'}"
    db = open_database(url)
    build_mm_tree(db, folder / "mm", MRICRON_TEMPLATES, COUNTS)
    run = open_run(db, RUN, "mm2d", {"benchmark_share": 0.4})
    samples = run_samples(db, run)
    plan = write_replay_plan(samples, folder / "replies")
    open_run(db, RUN, None, {"models": {"run_a": plan.model("a"), "run_b": plan.model("b"),
                                        "audit": plan.model("audit")}})
    results = run_stages(db, RUN, STAGES)
    yield {"db": db, "url": url, "run": run, "samples": samples, "plan": plan,
           "results": results}
    db.dispose()


def _dump(replayed, stage: str):  # noqa: ANN001, ANN202
    return dump_stage(replayed["db"], replayed["run"], replayed["samples"], stage)


def test_fused_dump_shows_each_outcome(replayed):
    plan = replayed["plan"]
    entries = {entry["sample_id"]: entry for entry in _dump(replayed, "fused")}
    assert len(entries) == len(replayed["samples"])
    assert all(entry["stage"] == "fused" for entry in entries.values())

    for key in plan.healthy:
        assert entries[key]["status"] == "healthy", key
    dropped = entries[plan.dropped]
    assert dropped["status"] == "dropped"
    assert dropped["notes"][0] == "dropped: single-model lesion"
    for key in plan.audited:
        kept = entries[key]
        assert kept["status"] == "kept", key
        assert kept["fields"]["shape"] == "Round", key
        assert kept["fields"]["margins"] is None, key
        assert "conflicting fields: margins" in kept["notes"], key
    counts = replayed["results"]["fuse"]
    assert (counts["kept"], counts["healthy"], counts["dropped"]) == (
        len(plan.audited), len(plan.healthy), 1)


def test_audited_dump_shows_decisions(replayed):
    plan = replayed["plan"]
    entries = {entry["sample_id"]: entry for entry in _dump(replayed, "audited")}
    assert set(entries) == set(plan.audited)

    rejected = entries[plan.rejected]
    assert rejected["status"] == "rejected"
    assert rejected["raw_output"] == audit_reply("REJECT")
    assert rejected["model"] == plan.model("audit")
    downgraded = entries[plan.downgraded]
    assert downgraded["status"] == "accepted"
    assert downgraded["fields"]["shape"] == "Round/Oval"
    assert "shape: 'Round' -> 'Round/Oval'" in downgraded["notes"]
    for key in plan.accepted:
        assert entries[key]["status"] == "accepted", key
        assert entries[key]["fields"]["shape"] == "Round", key
    assert replayed["results"]["audit"]["statuses"] == {
        "accepted": len(plan.accepted) + 1, "rejected": 1}


def test_instructions_dump_leaves_out_rejected(replayed):
    plan = replayed["plan"]
    entries = _dump(replayed, "instructions")
    generate = replayed["results"]["generate"]
    assert Counter(entry["kind"] for entry in entries) == generate["by_kind"]
    assert {entry["split"] for entry in entries} == {"train", "benchmark"}

    by_sample: dict[str, set[str]] = {}
    for entry in entries:
        assert entry["messages"][0]["content"].startswith("<image>\n")
        by_sample.setdefault(entry["sample_id"], set()).add(entry["question_type"])
    assert plan.rejected not in by_sample
    for key in (plan.downgraded, *plan.accepted):
        assert {"texture", "signal_intensity"} <= by_sample[key], key
        assert "margins" not in by_sample[key], key
    # Fusion dropped this sample, so it gets only the questions that need no silver label.
    assert not {"texture", "signal_intensity"} & by_sample[plan.dropped]


def test_stats_dump_on_standard_output(replayed):
    result = run_cli(replayed["url"], "pipeline", "dump", RUN, "stats")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats == read_stats(replayed["db"], replayed["run"].id)
    assert set(STAGES) <= set(stats)
    assert stats["audit"]["statuses"]["rejected"] == 1


def test_dump_to_file_and_unknown_stage(replayed, tmp_path):
    out = tmp_path / "audited.json"
    result = run_cli(replayed["url"], "pipeline", "dump", RUN, "audited", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}"
    assert json.loads(out.read_text()) == _dump(replayed, "audited")

    bad = run_cli(replayed["url"], "pipeline", "dump", RUN, "audit", "--out",
                  str(tmp_path / "bad.json"))
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        "error: unknown stage 'audit' to export; use description, run_a, run_b, fused, "
        "audited, instructions, stats"]
    assert not (tmp_path / "bad.json").exists()


# ------------------------------------------------------------ neuroonco export instructions

def test_export_instructions_one_kind_and_split(replayed, tmp_path):
    out = tmp_path / "closed"
    result = run_cli(replayed["url"], "export", "instructions", "--run", RUN, "--out", str(out),
                     "--kinds", "closed", "--split", "benchmark", "--json")
    assert result.returncode == 0, result.stderr
    with replayed["db"].session() as session:
        rows = session.execute(
            select(InstructionSample.id, InstructionSample.slice_id)
            .where(InstructionSample.pipeline_run_id == replayed["run"].id,
                   InstructionSample.kind == "closed", InstructionSample.split == "benchmark")
            .order_by(InstructionSample.id)).all()
    assert rows

    name = instruction_file_name("closed", "benchmark")
    assert json.loads(result.stdout) == {
        "folder": str(out), "split": "benchmark", "files": {"closed": len(rows)},
        "images": {"rendered": 0, "copied": len({row.slice_id for row in rows}), "masks": 0}}
    assert sorted(path.name for path in out.glob("*.json*")) == [DATASET_INFO, name]
    info = json.loads((out / DATASET_INFO).read_text())
    assert [entry["file_name"] for entry in info.values()] == [name]

    lines = [json.loads(line) for line in (out / name).read_text().splitlines()]
    assert [line["meta"]["id"] for line in lines] == [row.id for row in rows]
    assert {line["meta"]["kind"] for line in lines} == {"closed"}
    assert all((out / line["images"][0]).is_file() for line in lines)


@pytest.mark.parametrize("arguments, message", [
    (["--run", "missing"], "error: pipeline run 'missing' not found; list runs with "
                           "'neuroonco pipeline list'"),
    (["--run", RUN, "--kinds", "closed,summary"],
     "error: instruction kind(s) summary unknown; use closed, closed-cot, open"),
], ids=["unknown run", "unknown kind"])
def test_export_instructions_bad_input(replayed, tmp_path, arguments, message):
    out = tmp_path / "nothing"
    result = run_cli(replayed["url"], "export", "instructions", "--out", str(out), *arguments)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""
    assert not out.exists()
