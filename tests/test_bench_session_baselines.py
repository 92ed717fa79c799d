"""Full sessions with each baseline on the released closed (and open) file, and metrics
recomputed from storage against the file-based ``bench score``."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from benchmark_files import CLOSED_NAME, load_items
from conftest import run_cli
from db.models import Model, Run
from engine.bench.baselines import ALWAYS_E, MAJORITY, RANDOM, SEMANTICS_ORACLE, answer_random
from engine.bench.baseline_answerer import ABSTAIN_OPEN
from engine.bench.questions import load_closed_benchmark
from engine.bench.run_metrics import run_metrics
from engine.bench.score import load_predictions, score_predictions, summarise
from engine.bench.session import run_session
from engine.errors import InvalidInputError, NotFoundError
from session_helpers import (import_real, new_run, question_keys, stored_answers,
                             write_outputs)


@pytest.fixture
def released(db, shared_data):
    import_real(db, shared_data)
    return load_items(shared_data, CLOSED_NAME)


def _trap_keys(items) -> set[tuple[int, int]]:
    return {(item["id"], q_index) for item in items
            for q_index, pair in enumerate(item["vqa_pairs"]) if pair.get("meta_trap")}


def _correct_keys(db, run_id) -> set[tuple[int, int]]:
    keys = question_keys(db)
    return {keys[question_id][:2] for question_id, answer in stored_answers(db, run_id).items()
            if answer["is_correct"]}


def test_always_e_rejection_aware(db, released):
    run_id = new_run(db, ALWAYS_E)
    counts = run_session(db, run_id)
    metrics = run_metrics(db, run_id)
    closed = metrics["closed"]
    traps = _trap_keys(released)
    binary = sum(len(pair["options"]) == 2 for item in released for pair in item["vqa_pairs"])

    assert counts["answered_now"] == 3190
    assert len(traps) == 606
    assert _correct_keys(db, run_id) == traps
    assert closed["overall"]["correct"] == len(traps)
    assert closed["trap"] == {**closed["trap"], "total": 606, "correct": 606, "accuracy": 1.0}
    assert closed["non_trap"]["correct"] == 0
    # Two-option questions offer no E: the baseline abstains there instead of guessing.
    assert closed["outcomes"]["unparsed"] == binary
    assert closed["false_rejection"]["rate"] == 1.0
    assert closed["false_rejection"]["total"] == 3190 - 606 - binary


def test_always_e_standard_has_no_e(db, released):
    run_id = new_run(db, ALWAYS_E, setting="standard")
    run_session(db, run_id)
    metrics = run_metrics(db, run_id)
    closed = metrics["closed"]

    assert closed["overall"]["total"] == 3190 - len(_trap_keys(released))
    assert closed["trap"]["total"] == 0
    assert "E" not in closed["letters"]["gold"]
    assert closed["letters"]["predicted"]["unparsed"]["count"] == closed["overall"]["total"]
    answers = stored_answers(db, run_id)
    assert len(answers) == closed["overall"]["total"]
    assert all(answer["parsed_letter"] is None for answer in answers.values())
    # No trap question was asked at all.
    keys = question_keys(db)
    assert not {keys[question_id][:2] for question_id in answers} & _trap_keys(released)


def test_majority_standard_never_e(db, released):
    run_id = new_run(db, MAJORITY, setting="standard")
    run_session(db, run_id)
    closed = run_metrics(db, run_id)["closed"]
    gold = Counter(pair["answer"] for item in released for pair in item["vqa_pairs"]
                   if not pair.get("meta_trap"))
    top = max(sorted(gold), key=lambda letter: gold[letter])

    assert closed["letters"]["predicted"].get("E", {"count": 0})["count"] == 0
    assert closed["letters"]["predicted"][top]["count"] == closed["overall"]["total"]
    assert closed["overall"]["correct"] == gold[top]


def test_random_matches_seeded_draws(db, released, shared_data):
    run_id = new_run(db, RANDOM, seed=11)
    run_session(db, run_id)
    questions = load_closed_benchmark(shared_data / CLOSED_NAME)
    expected = {question.key for question in questions
                if answer_random(question, 11).letter == question.gold}

    assert _correct_keys(db, run_id) == expected
    assert run_metrics(db, run_id)["closed"]["overall"]["correct"] == len(expected)


def test_oracle_without_semantics_abstains(db, released):
    run_id = new_run(db, SEMANTICS_ORACLE)
    run_session(db, run_id)
    closed = run_metrics(db, run_id)["closed"]

    assert closed["outcomes"]["unparsed"] == 3190
    rules = Counter(answer["parse_rule"] for answer in stored_answers(db, run_id).values())
    assert rules == {"abstain-question-type": 1000 + 962, "abstain-no-semantics": 4 * 307}


@pytest.mark.parametrize("baseline", [RANDOM, ALWAYS_E])
def test_stored_metrics_equal_file_score(db, released, shared_data, tmp_path, db_url,
                                         baseline):
    run_id = new_run(db, baseline, seed=3)
    run_session(db, run_id)
    from_storage = run_metrics(db, run_id)
    predictions = write_outputs(db, run_id, tmp_path / "outputs.jsonl")

    questions = load_closed_benchmark(shared_data / CLOSED_NAME)
    loaded, _ = load_predictions(predictions)
    from_file = summarise(score_predictions(questions, loaded))
    assert from_storage["closed"] == from_file

    scored = run_cli(db_url, "bench", "score", "--benchmark-file", str(shared_data / CLOSED_NAME),
                     "--predictions", str(predictions), "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout) == from_storage["summary"]


def test_open_questions_abstained(db, shared_data):
    import_real(db, shared_data, with_open=True)
    run_id = new_run(db, RANDOM)
    counts = run_session(db, run_id)
    metrics = run_metrics(db, run_id)
    opened = [answer for answer in stored_answers(db, run_id).values() if answer["kind"] == "open"]

    assert counts["questions"] == 3190 + 1215
    assert len(opened) == 1215
    assert {answer["parse_rule"] for answer in opened} == {ABSTAIN_OPEN}
    assert all(answer["raw_output"] is None for answer in opened)
    assert all(answer["scores"]["rouge_l"] == 0.0 for answer in opened)
    assert metrics["open"]["total"] == 1215
    assert metrics["open"]["missing"] == 0
    assert metrics["open"]["keyword_recall_substring"]["mean"] == 0.0
    # Empty keyword lists are left out of keyword recall.
    assert metrics["open"]["keyword_recall_substring"]["total"] == 1215 - 83


def test_letter_prob_mode_rejected_for_baselines(db, released):
    with pytest.raises(InvalidInputError, match="baselines only generate"):
        new_run(db, RANDOM, mode="letter-prob")
    with pytest.raises(InvalidInputError, match="takes no adapter"):
        new_run(db, RANDOM, adapter="lora")
    with pytest.raises(InvalidInputError, match="uses no prompt template"):
        new_run(db, MAJORITY, template="closed-letter")
    with db.session() as session:
        assert session.scalars(select(Run)).all() == []


def test_limit_and_names(db, released):
    first = new_run(db, RANDOM, limit=10)
    second = new_run(db, RANDOM, limit=10)
    counts = run_session(db, first)
    with db.session() as session:
        names = [session.get(Run, run_id).name for run_id in (first, second)]

    assert counts["questions"] == 10
    assert names == ["baseline:random@mm/rejection-aware/generate/seed0/limit10",
                     "baseline:random@mm/rejection-aware/generate/seed0/limit10#2"]
    with pytest.raises(InvalidInputError, match="already used"):
        new_run(db, RANDOM, name=names[0])
    assert run_metrics(db, first)["closed"]["overall"]["total"] == 10


def test_model_run_fails_before_writing(db, released, db_url):
    with pytest.raises(NotFoundError, match="model 'tiny' not found"):
        new_run(db, "tiny")
    with db.session(write=True) as session:
        session.add(Model(name="tiny", backend="transformers", path="/models/tiny"))

    result = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", "tiny")
    assert result.returncode == 1
    assert result.stderr == ("error: the files of 'tiny' are missing: /models/tiny does not "
                             "exist; restore them or register the model again\n")
    judged = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", RANDOM,
                     "--judge", "tiny")
    assert judged.returncode == 1
    assert "they need --mode generate and a benchmark imported with its open file" in judged.stderr
    with db.session() as session:
        assert session.scalars(select(Run)).all() == []


def test_cli_run_runs_metrics_delete(db, released, db_url):
    run = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", ALWAYS_E,
                  "--name", "always-e", "--json")
    assert run.returncode == 0, run.stderr
    metrics = json.loads(run.stdout)
    assert metrics["run"]["status"] == "finished"
    assert metrics["summary"]["trap"]["accuracy"] == 1.0

    listed = run_cli(db_url, "bench", "runs", "--benchmark", "mm", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["answers"], row["questions"]) == ("always-e", 3190, 3190)
    assert row["accuracy"] == metrics["accuracy"]

    shown = run_cli(db_url, "bench", "metrics", "always-e")
    assert shown.returncode == 0, shown.stderr
    assert "trap              100.0%" in shown.stdout

    deleted = run_cli(db_url, "bench", "delete-run", "always-e")
    assert deleted.returncode == 0, deleted.stderr
    assert "3190 answers" in deleted.stdout
    missing = run_cli(db_url, "bench", "metrics", "always-e")
    assert missing.returncode == 1
    assert missing.stderr.strip() == ("error: run 'always-e' not found; list runs with "
                                      "'neuroonco bench runs'")


def test_cli_oracle_without_semantics_warns(db, released, db_url):
    run = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", SEMANTICS_ORACLE,
                  "--limit", "20")
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: 0 of 1000 items of benchmark 'mm' link to a slice "
                                  "with mask semantics")
    assert "neuroonco bench set-data-root mm DIR" in warnings[0]
    assert "  abstained       20 (100.0%) by the baseline, counted as unparsed" in run.stdout

    metrics = run_cli(db_url, "bench", "metrics", run.stdout.split("'")[1], "--json")
    assert metrics.returncode == 0, metrics.stderr
    assert json.loads(metrics.stdout)["abstained"] == {"count": 20, "total": 20, "rate": 1.0}


def test_cli_random_run_has_no_warning(db, released, db_url):
    run = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", RANDOM, "--limit", "5")
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr
    assert "abstained" not in run.stdout


def test_cli_run_job_names_worker(db, released, db_url):
    queued = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", RANDOM,
                     "--limit", "5", "--name", "queued", "--job")
    assert queued.returncode == 0, queued.stderr
    assert queued.stdout.startswith("run 'queued' queued as job ")
    assert "run 'neuroonco worker' to process it" in queued.stdout


def test_cli_runs_named_by_id(db, released, db_url):
    first = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", RANDOM,
                    "--limit", "5", "--name", "first")
    assert first.returncode == 0, first.stderr
    # A run whose name is the other run's id: the name wins.
    digits = run_cli(db_url, "bench", "run", "--benchmark", "mm", "--model", ALWAYS_E,
                     "--limit", "5", "--name", "1")
    assert digits.returncode == 0, digits.stderr
    with db.session(write=True) as session:
        session.add(Run(name="empty", benchmark_id=session.scalar(select(Run.benchmark_id)),
                        model_name=RANDOM, setting="rejection-aware", mode="generate", seed=0,
                        status="failed", config={"questions": {"closed": 5}}))

    listed = run_cli(db_url, "bench", "runs")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:2] == ["id", "run"]
    assert lines[1].split()[:2] == ["1", "first"]
    assert lines[2].split()[:2] == ["2", "1"]
    assert lines[3].split() == ["3", "empty", "failed", "0/5", "-"]

    by_id = run_cli(db_url, "bench", "metrics", "2", "--json")
    assert by_id.returncode == 0, by_id.stderr
    assert json.loads(by_id.stdout)["run"]["name"] == "1"
    by_name = run_cli(db_url, "bench", "metrics", "1", "--json")
    assert json.loads(by_name.stdout)["run"]["name"] == "1"
    compared = run_cli(db_url, "bench", "compare", "2", "first", "--json")
    assert compared.returncode == 0, compared.stderr
    assert [row["run"] for row in json.loads(compared.stdout)] == ["1", "first"]
    missing = run_cli(db_url, "bench", "report", "9", "--json", "/dev/null")
    assert missing.returncode == 1
    assert "run '9' not found" in missing.stderr

    deleted = run_cli(db_url, "bench", "delete-run", "3")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith("deleted run 'empty': 0 answers")
