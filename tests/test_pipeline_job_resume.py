"""Resuming pipeline work: a cancelled ``pipeline.run`` job, and an audit with failed calls.

Runs use recorded model replies on a small 2D dataset of Colin27 slices. The job runs in
the worker loop of ``neuroonco worker``, in this process, and is cancelled as
``neuroonco jobs cancel`` does it: through the job row's cancel flag, which the job reads
at its progress calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import pytest
from sqlalchemy import select

from conftest import MRICRON_TEMPLATES
from db.models import InstructionSample, SilverLabel
from db.session import open_database
from engine.jobs import queue
from engine.jobs.worker import PROGRESS_INTERVAL_S, WorkerLoop
from engine.pipeline.labels import AUDITED
from engine.pipeline.model_calls import ReplayModel
from engine.pipeline.runs import open_run, read_stats
from engine.pipeline.stages import StageOptions, run_samples, run_stages
from pipeline_data import build_mm_tree
from pipeline_replies import audit_reply, write_replay_plan, write_replies

COUNTS = {"glioma": 5, "meningioma": 3, "pituitary": 3, "healthy": 3}
STAGES = ["description", "extract-a", "extract-b", "fuse", "audit", "generate", "split"]
OPTIONS = {"benchmark_share": 0.4, "seed": 5}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A 2D dataset and the replay plan of its samples."""
    if not (MRICRON_TEMPLATES / "ch2.nii.gz").exists():
        pytest.skip("Debian package mricron-data not installed")
    folder = tmp_path_factory.mktemp("job-resume")
    db = open_database(f"sqlite:///{folder / 'workbench.sqlite'}")
    build_mm_tree(db, folder / "mm", MRICRON_TEMPLATES, COUNTS)
    samples = run_samples(db, open_run(db, "probe", "mm2d"))
    yield {"db": db, "plan": write_replay_plan(samples, folder / "replies")}
    db.dispose()


def _open(data, name: str):  # noqa: ANN001, ANN202
    plan = data["plan"]
    models = {"run_a": plan.model("a"), "run_b": plan.model("b"), "audit": plan.model("audit")}
    return open_run(data["db"], name, "mm2d", {**OPTIONS, "models": models})


def _instructions(db, run_id: int) -> list[tuple]:  # noqa: ANN001
    """Return the run's instruction samples without their row ids, sorted."""
    with db.session() as session:
        rows = session.execute(
            select(InstructionSample.slice_id, InstructionSample.kind,
                   InstructionSample.question_type, InstructionSample.split,
                   InstructionSample.messages, InstructionSample.images, InstructionSample.meta)
            .where(InstructionSample.pipeline_run_id == run_id)).all()
    return sorted((row.slice_id, row.kind, row.question_type, row.split,
                   json.dumps(row.messages), json.dumps(row.images),
                   json.dumps(row.meta, sort_keys=True)) for row in rows)


class _CancelAfterStage(logging.Handler):
    """Cancels job ``job_id`` when the pipeline logs that ``stage`` finished."""

    def __init__(self, db, job_id: int, stage: str) -> None:  # noqa: ANN001 - a Database
        super().__init__(level=logging.INFO)
        self.db = db
        self.job_id = job_id
        self.suffix = f": stage {stage} finished"

    def emit(self, record: logging.LogRecord) -> None:
        if not record.getMessage().endswith(self.suffix):
            return
        assert queue.cancel(self.db, self.job_id) == "running"
        # A job reads its cancel flag at most once per progress interval. After this wait,
        # its next progress call reads the flag, before the next stage does any work.
        time.sleep(PROGRESS_INTERVAL_S)


@pytest.mark.parametrize("stop_after", ["description", "generate"])
def test_cancelled_job_resumes_to_same_instructions(data, caplog, stop_after):
    db = data["db"]
    caplog.set_level(logging.INFO, logger="engine.pipeline.stages")
    straight = _open(data, f"straight-{stop_after}")
    run_stages(db, straight.name, STAGES)
    expected = _instructions(db, straight.id)
    assert expected

    run = _open(data, f"resumed-{stop_after}")
    job_id = queue.submit(db, "pipeline.run", {"run": run.name, "stages": STAGES})
    canceller = _CancelAfterStage(db, job_id, stop_after)
    logging.getLogger("engine.pipeline.stages").addHandler(canceller)
    try:
        assert WorkerLoop(db, poll_interval=0.05, idle_exit_s=5, max_jobs=1).run() == 1
    finally:
        logging.getLogger("engine.pipeline.stages").removeHandler(canceller)

    job = queue.get_job(db, job_id)
    assert job.state == "cancelled"
    assert job.message == "cancelled by the user"
    done = STAGES[:STAGES.index(stop_after) + 1]
    assert [stage for stage in STAGES if stage in read_stats(db, run.id)] == done
    partial = _instructions(db, run.id)
    assert bool(partial) == (stop_after == "generate")

    queue.resume(db, job_id)
    assert WorkerLoop(db, poll_interval=0.05, idle_exit_s=5, max_jobs=1).run() == 1

    job = queue.get_job(db, job_id)
    assert job.state == "succeeded", job.message
    assert job.attempt == 2
    resumed = _instructions(db, run.id)
    assert len(resumed) == len(set(resumed))
    assert resumed == expected


def _audited(db, run_id: int) -> dict[int, tuple]:  # noqa: ANN001
    """Return {slice id: (status, fields, notes, raw output)} of the run's audited labels."""
    with db.session() as session:
        rows = session.scalars(select(SilverLabel).where(SilverLabel.pipeline_run_id == run_id,
                                                         SilverLabel.stage == AUDITED))
        return {row.slice_id: (row.status, row.fields, row.notes, row.raw_output) for row in rows}


def test_audit_resume_retries_only_failed_calls(data, tmp_path):
    db, plan = data["db"], data["plan"]
    run = _open(data, "audit-retry")
    ids = {sample.sample_id: sample.slice_id for sample in run_samples(db, run)}
    run_stages(db, run.name, ["description", "extract", "fuse"])
    first = ReplayModel(write_replies(tmp_path / "first.jsonl", {
        plan.rejected: audit_reply("REJECT"), plan.downgraded: audit_reply(shape="DOWNGRADE")}))

    result = run_stages(db, run.name, ["audit"],
                        options=StageOptions(callers={"audit": first}))["audit"]
    assert result["statuses"] == {"accepted": 1, "error": len(plan.accepted), "rejected": 1}
    before = _audited(db, run.id)
    for key in plan.accepted:
        status, _fields, notes, raw = before[ids[key]]
        assert status == "error", key
        assert notes[0].startswith("model call failed: replay file"), key
        assert raw is None, key

    # The second auditor rejects every sample, but only the failed calls reach it.
    second = ReplayModel(write_replies(tmp_path / "second.jsonl", {
        key: audit_reply("REJECT") for key in plan.audited}))
    result = run_stages(db, run.name, ["audit"],
                        options=StageOptions(callers={"audit": second}))["audit"]
    assert result["statuses"] == {"accepted": 1, "rejected": len(plan.accepted) + 1}

    after = _audited(db, run.id)
    assert Counter(status for status, *_ in after.values()) == result["statuses"]
    for key in (plan.rejected, plan.downgraded):
        assert after[ids[key]] == before[ids[key]], key
    assert after[ids[plan.downgraded]][1]["shape"] == "Round/Oval"
    for key in plan.accepted:
        assert after[ids[key]][0] == "rejected", key
        assert after[ids[key]][3] == audit_reply("REJECT"), key
