"""Engine queries behind the research windows, without Qt: question outcomes and the confusion
matrix, resume decisions, a slice's silver labels with verdicts, and the pipeline overview."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app_data import demo_db, demo_template  # noqa: F401
from db.models import Job, PipelineRun, Run, SilverLabel, Slice
from engine.bench.metrics import ANSWERED, MISSING, UNPARSED
from engine.bench.run_metrics import run_metrics
from engine.bench.run_questions import (QuestionOutcome, confusion_matrix, matching,
                                        outcomes_for_metric, question_outcomes)
from engine.bench.runs import RunSpec, create_run
from engine.bench.session import run_session
from engine.bench.session_choices import resume_target, unfinished_runs
from engine.demo import DEMO_BENCHMARK, DEMO_PIPELINE_RUN
from engine.errors import WorkbenchError
from engine.jobs import queue
from engine.pipeline.overview import pipeline_overview
from engine.pipeline.slice_labels import field_choices, slice_labels
from engine.pipeline.vocabulary import empty_fields
from engine.review import ReviewTarget, record_review, undo_review


def outcome(number: int, question_type: str, gold: str, gold_text: str, predicted: str | None = None,
            predicted_text: str | None = None, result: str = ANSWERED, trap: bool = False) -> QuestionOutcome:
    return QuestionOutcome(question_id=number, answer_id=number, item_pk=100 + number, item_id=number,
                           slice_id=None, q_index=0, question_type=question_type, stem="?",
                           is_trap=trap, gold=gold, gold_text=gold_text, predicted=predicted,
                           predicted_text=predicted_text, outcome=result, parse_rule=None)


CRAFTED = [
    outcome(1, "diagnosis", "A", "Glioma", "B", "glioma"),             # same text, other spelling
    outcome(2, "diagnosis", "C", "glioma", "A", "Meningioma"),
    outcome(3, "diagnosis", "B", "Meningioma", result=UNPARSED),
    outcome(4, "diagnosis", "E", "None of the above", "A", "Glioma", trap=True),
    outcome(5, "diagnosis", "A", "", "B", ""),                          # options without text
    outcome(6, "modality", "A", "T1", "E", "None of the above"),
    outcome(7, "size", "B", "Small", result=MISSING),
]


def test_confusion_matrix_counts_by_option_text():
    matrix = confusion_matrix(CRAFTED)
    assert matrix.gold_labels == ("Glioma", "A", "Meningioma", "None of the above")
    assert matrix.predicted_labels == ("Glioma", "B", "Meningioma", "unparsed")
    assert matrix.count("Glioma", "Glioma") == 1
    assert matrix.count("Glioma", "Meningioma") == 1
    assert matrix.count("Meningioma", "unparsed") == 1
    assert matrix.count("None of the above", "Glioma") == 1
    assert matrix.count("A", "B") == 1
    assert matrix.total == 5  # the modality and size questions are not diagnosis questions


def test_confusion_matrix_of_all_types():
    matrix = confusion_matrix(CRAFTED, question_type=None)
    assert matrix.total == 7
    assert matrix.count("T1", "None of the above") == 1
    assert matrix.count("Small", "missing") == 1


def test_matching_and_metric_filters():
    assert [row.question_id for row in matching(CRAFTED, question_type="diagnosis", gold_label="GLIOMA")] == [1, 2]
    assert [row.question_id for row in matching(CRAFTED, predicted_label="glioma")] == [1, 4]
    assert [row.question_id for row in outcomes_for_metric(CRAFTED, "type:size")] == [7]
    assert [row.question_id for row in outcomes_for_metric(CRAFTED, "trap")] == [4]
    assert len(outcomes_for_metric(CRAFTED, "non_trap")) == 6
    assert [row.question_id for row in outcomes_for_metric(CRAFTED, "false_rejection")] == [6]
    assert [row.question_id for row in outcomes_for_metric(CRAFTED, "unparsed")] == [3]
    assert len(outcomes_for_metric(CRAFTED, "accuracy")) == 7
    assert [row.correct for row in CRAFTED] == [False, False, False, False, False, False, False]


def test_question_outcomes_follow_run_plan(demo_db):
    # With open questions in the plan, the limit counts them too, as the session did.
    run_id = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model="baseline:always-e", limit=9))
    run_session(demo_db, run_id)
    outcomes = question_outcomes(demo_db, run_id)
    closed = run_metrics(demo_db, run_id)["closed"]
    assert len(outcomes) == closed["overall"]["total"]
    assert sum(row.correct for row in outcomes) == closed["overall"]["correct"]
    assert {row.predicted for row in outcomes if row.outcome == ANSWERED} == {"E"}
    for row in outcomes:
        assert row.predicted_label == ("None of the above" if row.outcome == ANSWERED else row.outcome)


def test_resume_target_decisions(demo_db):
    never = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model="baseline:random", name="never"))
    assert resume_target(demo_db, "never") == (never, None)

    failed = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model="baseline:random", name="failed"))
    job_id = queue.submit(demo_db, "bench.run", {"run_id": failed, "run": "failed"})
    with demo_db.session(write=True) as session:
        session.get(Job, job_id).state = "failed"
        session.get(Run, failed).job_id = job_id
        session.get(Run, failed).status = "failed"
    assert resume_target(demo_db, "failed") == (failed, job_id)

    with demo_db.session(write=True) as session:
        session.get(Job, job_id).state = "queued"
    with pytest.raises(WorkbenchError, match="is queued in job"):
        resume_target(demo_db, "failed")
    assert unfinished_runs(demo_db) == ["never", "failed"]


def test_slice_labels_with_current_verdicts(demo_db):
    with demo_db.session(write=True) as session:
        run_id = session.scalar(select(PipelineRun.id).where(PipelineRun.name == DEMO_PIPELINE_RUN))
        slice_id = session.scalar(select(Slice.id).order_by(Slice.id).limit(1))
        labels = {}
        for stage in ("audited", "run_a"):
            label = SilverLabel(pipeline_run_id=run_id, slice_id=slice_id, stage=stage, status="ok",
                                fields=dict(empty_fields(), lesion_found=True, shape="Round"))
            session.add(label)
            session.flush()
            labels[stage] = label.id
        target = ReviewTarget("silver_label", labels["audited"], "shape")
        record_review(session, target, "ana", "agree")
        record_review(session, target, "ana", "disagree", corrected_label="Oval")
        record_review(session, target, "ben", "agree")
        withdrawn = record_review(session, ReviewTarget("silver_label", labels["audited"], "margins"), "ana", "agree")
        undo_review(session, withdrawn.id)

    with demo_db.session() as session:
        shown = slice_labels(session, slice_id, "ana")
        anonymous = slice_labels(session, slice_id, None)
    assert [(label.stage, label.pipeline_run) for label in shown] == [("run_a", DEMO_PIPELINE_RUN),
                                                                       ("audited", DEMO_PIPELINE_RUN)]
    audited = shown[1]
    assert audited.fields["shape"] == "Round"
    assert audited.fields["oedema"] is None
    assert set(audited.verdicts) == {"shape"}  # the margins review was withdrawn
    assert (audited.verdicts["shape"].verdict, audited.verdicts["shape"].corrected_label) == ("disagree", "Oval")
    assert all(not label.verdicts for label in anonymous)
    assert field_choices("lesion_found") == ("True", "False")
    assert "Round/Oval" in field_choices("shape")


def test_pipeline_overview_of_demo_run(demo_db):
    overview = pipeline_overview(demo_db, DEMO_PIPELINE_RUN)
    done = {stage.stage for stage in overview.stages if stage.done}
    assert done == {"description", "generate", "split"}
    assert [stage.summary for stage in overview.stages if not stage.done] == ["not run"] * 5
    assert overview.air == {}
    assert overview.reviews == {}
