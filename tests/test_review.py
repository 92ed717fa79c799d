"""Append-only reviews: versions, undo, history, export and agreement per run."""

from __future__ import annotations

import csv
import json

import pytest

from db.models import Answer, Benchmark, BenchmarkItem, Case, Dataset, Question, Run, Series, Slice
from db.session import open_database
from engine.errors import InvalidInputError, NotFoundError
from engine.review import (ReviewTarget, agreement_by_run, current_reviews, export_reviews, history,
                           list_reviews, record_review, undo_review)


@pytest.fixture
def answers(db):
    with db.session(write=True) as session:
        dataset = Dataset(name="d")
        case = Case(dataset=dataset, pseudonym="case-1", tumour_type="glioma")
        series = Series(case=case, modality="FLAIR", kind="image2d", file_format="png",
                        shape=[8, 8], voxel_spacing=[1, 1], source_path="/x.png",
                        content_sha256="0" * 64)
        slice_ = Slice(series=series, index=0, image_path="glioma/10_flair/1.png")
        benchmark = Benchmark(name="b")
        item = BenchmarkItem(benchmark=benchmark, item_id=7, image_path=slice_.image_path,
                             slice=slice_, image_missing=False)
        questions = [Question(item=item, kind="closed", q_index=k, question_type="diagnosis",
                              stem="?", options={"A": "glioma", "B": "abscess"}, gold_letter="A")
                     for k in range(3)]
        session.add_all([dataset, benchmark, *questions])
        session.flush()
        run_a = Run(name="run-a", benchmark_id=benchmark.id, model_name="model-a")
        run_b = Run(name="run-b", benchmark_id=benchmark.id, model_name="model-b")
        session.add_all([run_a, run_b])
        session.flush()
        ids = []
        for run in (run_a, run_b):
            for question in questions:
                answer = Answer(run_id=run.id, question_id=question.id, parsed_letter="A",
                                is_correct=True)
                session.add(answer)
                session.flush()
                ids.append(answer.id)
        return {"answers": ids, "slice": slice_.id, "runs": (run_a.id, run_b.id)}


def test_edit_appends_version(db, answers):
    target = ReviewTarget("answer", answers["answers"][0])
    with db.session(write=True) as session:
        first = record_review(session, target, "ana", "agree")
        second = record_review(session, target, "ana", "disagree", comment="wrong type",
                               corrected_answer="B")
    assert (first.version, second.version) == (1, 2)
    assert second.supersedes_id == first.id
    with db.session() as session:
        versions = history(session, target)
        current = current_reviews(session, target)
    assert [review.verdict for review in versions] == ["agree", "disagree"]
    assert [(review.verdict, review.corrected_answer) for review in current] == [("disagree", "B")]


def test_undo_restores_previous_version(db, answers):
    target = ReviewTarget("answer", answers["answers"][0])
    with db.session(write=True) as session:
        first = record_review(session, target, "ana", "agree", comment="fine")
        second = record_review(session, target, "ana", "flag")
        restored = undo_review(session, second.id)
        assert (restored.verdict, restored.comment, restored.version) == ("agree", "fine", 3)
        # A second undo walks back past the first save.
        assert undo_review(session, first.id).verdict == "withdrawn"
    with db.session() as session:
        assert current_reviews(session, target) == []
        assert [r.verdict for r in history(session, target)] == ["agree", "flag", "agree", "withdrawn"]


def test_undo_of_first_review_withdraws_it(db, answers):
    target = ReviewTarget("slice", answers["slice"])
    with db.session(write=True) as session:
        review = record_review(session, target, "ana", "agree")
        assert undo_review(session, review.id).verdict == "withdrawn"
    with db.session() as session:
        assert current_reviews(session, target) == []
        with pytest.raises(NotFoundError):
            undo_review(session, 9999)


def test_reviewers_keep_separate_versions(db, answers):
    target = ReviewTarget("answer", answers["answers"][1])
    with db.session(write=True) as session:
        record_review(session, target, "ana", "agree")
        record_review(session, target, "ben", "disagree")
        record_review(session, target, "ana", "flag")
    with db.session() as session:
        current = {review.reviewer: review.verdict for review in current_reviews(session, target)}
    assert current == {"ana": "flag", "ben": "disagree"}


def test_invalid_reviews_rejected(db, answers):
    with db.session(write=True) as session:
        with pytest.raises(InvalidInputError, match="reviewer name is empty"):
            record_review(session, ReviewTarget("slice", answers["slice"]), " ", "agree")
        with pytest.raises(InvalidInputError, match="verdict must be one of"):
            record_review(session, ReviewTarget("slice", answers["slice"]), "ana", "maybe")
    with pytest.raises(InvalidInputError, match="needs the field"):
        ReviewTarget("silver_label", 1)


def test_filter_and_export(db, answers, tmp_path):
    with db.session(write=True) as session:
        record_review(session, ReviewTarget("answer", answers["answers"][0]), "ana", "agree")
        record_review(session, ReviewTarget("answer", answers["answers"][1]), "ana", "disagree",
                      comment="needs a look")
        record_review(session, ReviewTarget("answer", answers["answers"][3]), "ben", "agree")
        record_review(session, ReviewTarget("slice", answers["slice"]), "ben", "flag")
    with db.session() as session:
        disagreements = list_reviews(session, verdict="disagree")
        bens = list_reviews(session, reviewer="ben")
        run_a = list_reviews(session, run_id=answers["runs"][0])
        everything = list_reviews(session)
    assert [row["comment"] for row in disagreements] == ["needs a look"]
    assert {row["target"] for row in bens} == {"answer", "slice"}
    assert {row["run"] for row in run_a} == {"run-a"}
    assert everything[0]["image_path"] == "glioma/10_flair/1.png"
    assert everything[0]["case"] == "case-1"

    assert export_reviews(everything, tmp_path / "reviews.csv") == 4
    with open(tmp_path / "reviews.csv", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert [row["verdict"] for row in exported] == ["agree", "disagree", "agree", "flag"]
    export_reviews(everything, tmp_path / "reviews.json")
    assert json.loads((tmp_path / "reviews.json").read_text())[1]["model"] == "model-a"
    with pytest.raises(InvalidInputError, match="use a .csv or .json"):
        export_reviews(everything, tmp_path / "reviews.xlsx")


def test_agreement_by_run(db, answers):
    a0, a1, a2, b0, _b1, _b2 = answers["answers"]
    with db.session(write=True) as session:
        record_review(session, ReviewTarget("answer", a0), "ana", "agree")
        record_review(session, ReviewTarget("answer", a1), "ana", "disagree")
        record_review(session, ReviewTarget("answer", a2), "ana", "agree")
        record_review(session, ReviewTarget("answer", b0), "ana", "flag")
        record_review(session, ReviewTarget("answer", a2), "ben", "agree")
    with db.session() as session:
        agreement = agreement_by_run(session)
    run_a, run_b = answers["runs"]
    assert agreement[run_a]["reviewed"] == 4
    assert agreement[run_a]["agreement"] == pytest.approx(3 / 4)
    assert agreement[run_b] == {"reviewed": 1, "agree": 0, "disagree": 0, "flag": 1, "agreement": 0.0}


def test_reviews_survive_reopening(db_url, answers, db):
    with db.session(write=True) as session:
        record_review(session, ReviewTarget("slice", answers["slice"]), "ana", "agree", comment="ok")
    db.dispose()
    reopened = open_database(db_url)
    with reopened.session() as session:
        rows = list_reviews(session)
    reopened.dispose()
    assert [(row["verdict"], row["comment"]) for row in rows] == [("agree", "ok")]
