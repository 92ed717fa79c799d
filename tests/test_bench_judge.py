"""The open-answer judge: prompt rendering, verdict parsing and judgement storage."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from benchmark_files import OPEN_NAME, closed_items, load_items, open_items, write_json
from conftest import run_cli
from db.models import Judgement, Model, Run
from engine.bench.answerer import ModelAnswer
from engine.bench.importer import import_benchmark
from engine.bench.judge import (JUDGE_TEMPLATE, judge_open_answers, parse_verdict,
                                render_judge_prompt)
from engine.bench.open_metrics import keyword_recall
from engine.bench.run_metrics import run_metrics
from engine.bench.runs import RunSpec, create_run
from engine.bench.session import run_session


class FirstSentenceAnswerer:
    """Answers open questions with the first sentence of the reference, closed ones with A."""

    needs_image = False

    def describe(self) -> dict:
        return {"kind": "test", "name": "first-sentence"}

    def answer_image(self, image, questions):  # noqa: ANN001
        answers = []
        for question in questions:
            if question.kind == "open":
                answers.append(ModelAnswer(raw_output=question.reference.split(". ")[0] + "."))
            else:
                answers.append(ModelAnswer(raw_output="A"))
        return answers

    def close(self) -> None:
        pass


class KeywordJudge:
    """Grades by the share of reference keywords the answer contains, as "Score: N"."""

    def __init__(self, keywords_by_reference: dict[str, tuple[str, ...]]) -> None:
        self.keywords = keywords_by_reference
        self.prompts = []

    def describe(self) -> dict:
        return {"kind": "test", "name": "keyword-judge"}

    def judge(self, prompt) -> str:  # noqa: ANN001
        self.prompts.append(prompt)
        reference = prompt.user.split("Reference answer:\n")[1].split("\n\nKey terms")[0]
        answer = prompt.user.split("Candidate answer:\n")[1].split("\n\nJudge only")[0]
        recall = keyword_recall(answer, self.keywords[reference])
        score = 5 if recall is None else round(10 * recall)
        return f"Score: {score}\nReason: keyword overlap."

    def close(self) -> None:
        pass


def test_render_judge_prompt():
    prompt = render_judge_prompt("Where is the lesion?", "A mass in the left frontal lobe.",
                                 ["mass", "frontal"], "Left frontal mass.")
    assert prompt.template_id == "judge-open"
    assert prompt.template_version == "1"
    assert JUDGE_TEMPLATE.name == "judge-open.v1.toml"
    assert "Question:\nWhere is the lesion?" in prompt.user
    assert "Reference answer:\nA mass in the left frontal lobe." in prompt.user
    assert "Key terms of the reference: mass, frontal" in prompt.user
    assert "Candidate answer:\nLeft frontal mass." in prompt.user
    assert prompt.user.endswith("Reason: <one sentence>")
    assert prompt.system.startswith("You are an expert neuroradiologist")
    assert prompt.text.startswith("template judge-open v1\n\nsystem:\n")
    empty = render_judge_prompt("Q?", "R.", [], "A.")
    assert "Key terms of the reference: none listed" in empty.user


@pytest.mark.parametrize("raw, score", [
    ("Score: 7\nReason: mostly right.", 0.7),
    ("score = 10/10", 1.0),
    ("**Score:** 3", 0.3),
    ("Score: 2. On reflection, Score: 6", 0.6),
    ("Score: 0", 0.0),
    ("Score: 11", None),
    ("The answer is good.", None),
    ("", None),
    (None, None),
])
def test_parse_verdict(raw, score):
    assert parse_verdict(raw) == score


@pytest.fixture
def open_run(db, shared_data, tmp_path):
    ids = [item["id"] for item in load_items(shared_data, OPEN_NAME)[:3]]
    closed = write_json(tmp_path / "closed.json", closed_items(shared_data, ids))
    opened = write_json(tmp_path / "open.json", open_items(shared_data, ids))
    import_benchmark(db, closed, opened, name="three")
    with db.session(write=True) as session:
        session.add(Model(name="writer", backend="transformers", path="/models/none"))
    answerer = FirstSentenceAnswerer()
    run_id = create_run(db, RunSpec(benchmark="three", model="writer"), answerer=answerer)
    run_session(db, run_id, answerer=answerer)
    keywords = {pair["reference_answer"]: tuple(pair["eval_keywords"])
                for item in open_items(shared_data, ids) for pair in item["qa_pairs"]}
    return run_id, keywords


def test_judgements_stored_and_resumable(db, open_run):
    run_id, keywords = open_run
    judge = KeywordJudge(keywords)
    made = judge_open_answers(db, run_id, judge, "keyword-judge")

    with db.session() as session:
        rows = session.scalars(select(Judgement).order_by(Judgement.id)).all()
    assert made == len(rows) == 3 * 5
    for row, prompt in zip(rows, judge.prompts):
        assert row.judge_model_name == "keyword-judge"
        assert row.prompt == prompt.text
        assert row.raw_verdict.startswith("Score: ")
        assert row.score == parse_verdict(row.raw_verdict)

    assert judge_open_answers(db, run_id, judge, "keyword-judge") == 0
    summary = run_metrics(db, run_id)["judge"]["keyword-judge"]
    scores = [row.score for row in rows]
    assert summary["judged"] == summary["scored"] == len(rows)
    assert summary["mean"] == pytest.approx(sum(scores) / len(scores))


def test_judge_cli_checks_judge_model(db, shared_data, tmp_path, db_url):
    ids = [item["id"] for item in load_items(shared_data, OPEN_NAME)[:2]]
    import_benchmark(db, write_json(tmp_path / "closed.json", closed_items(shared_data, ids)),
                     write_json(tmp_path / "open.json", open_items(shared_data, ids)), name="two")
    with db.session(write=True) as session:
        session.add(Model(name="judge", backend="llama.cpp", path="/models/judge.gguf"))

    result = run_cli(db_url, "bench", "run", "--benchmark", "two", "--model", "baseline:random",
                     "--judge", "judge")
    assert result.returncode == 1
    assert result.stderr == ("error: the files of 'judge' are missing: /models/judge.gguf does "
                             "not exist; restore them or register the model again\n")
    baseline = run_cli(db_url, "bench", "run", "--benchmark", "two", "--model", "baseline:random",
                       "--judge", "baseline:majority")
    assert baseline.returncode == 1
    assert "is a baseline and cannot judge" in baseline.stderr
    with db.session() as session:
        assert session.scalars(select(Run)).all() == []
