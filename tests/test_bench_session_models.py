"""Benchmark sessions answered by registered tiny models through the inference engine.

The demo benchmark (13 items rendered from the demo volume, 78 closed questions of which 13
have two options and 13 are trap items, and 65 open questions) is answered in full by the
tiny random LLaVA (transformers), the tiny Qwen2.5-VL GGUF (llama.cpp) and that GGUF served
by llama-cpp-python's OpenAI-compatible server on 127.0.0.1, in generate and letter-prob
mode. Random weights give random answers: the checks are about what is stored, never about
accuracy.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict

import pytest
from sqlalchemy import select

from app_data import demo_db, demo_template  # noqa: F401
from conftest import run_cli
from db.models import Answer, BenchmarkItem, Judgement, Question, Run
from engine.bench.answer_rows import GENERATE, LETTER_PROB
from engine.bench.judge import parse_verdict, render_judge_prompt
from engine.bench.model_answerer import split_reasoning
from engine.bench.model_backends import model_answerer
from engine.bench.parser import LETTER_PROBABILITY, PARSED_RULES
from engine.bench.plan import CLOSED, OPEN, load_plan
from engine.bench.run_metrics import run_metrics
from engine.bench.runs import RunSpec, create_run
from engine.bench.session import run_session
from engine.demo import DEMO_BENCHMARK
from engine.errors import Cancelled, InvalidInputError, NotFoundError, WorkbenchError
from engine.inference.registry import add_model, store_hashes
from engine.progress import Progress
from inference_fixtures import gguf_pair, llama_server, tiny_models  # noqa: F401

pytestmark = pytest.mark.slow

BACKENDS = ("transformers", "llama.cpp", "openai")
MODEL = "tiny"
# Short replies keep a full session to seconds; the open template alone would allow 256 tokens.
GENERATION = {"generation": {"max_new_tokens": 12}}
DEMO_CLOSED, DEMO_OPEN, DEMO_TWO_OPTION = 78, 65, 13
QUESTIONS_PER_ITEM = 11  # 6 closed and 5 open


def register(db, backend: str, tiny_models, request, name: str = MODEL) -> None:  # noqa: F811
    """Register the tiny model of ``backend`` as ``name``."""
    if backend == "transformers":
        add_model(db, name, "transformers", path=tiny_models.llava(), settings=dict(GENERATION))
    elif backend == "llama.cpp":
        text, mmproj = request.getfixturevalue("gguf_pair")
        add_model(db, name, "llama.cpp", path=text, mmproj_path=mmproj,
                  settings={**GENERATION, "n_threads": 2})
    else:
        base_url = request.getfixturevalue("llama_server")
        # The tiny vocabulary has 400 tokens, so 500 top logprobs cover every letter token.
        add_model(db, name, "openai", base_url=base_url, server_model="tiny",
                  settings={**GENERATION, "top_logprobs": 500})


def answer_rows(db, run_id: int) -> list:
    with db.session() as session:
        return session.execute(
            select(Answer, Question.kind, Question.options, BenchmarkItem.item_id)
            .join(Question, Answer.question_id == Question.id)
            .join(BenchmarkItem, Question.item_id == BenchmarkItem.id)
            .where(Answer.run_id == run_id).order_by(Answer.id)).all()


def run_row(db, run_id: int) -> Run:
    with db.session() as session:
        run = session.get(Run, run_id)
        session.expunge(run)
        return run


class CancelAfter(Progress):
    """Cancels the session at the first check after ``units`` answered questions."""

    def __init__(self, units: int) -> None:
        super().__init__()
        self.units = units

    def check(self) -> None:
        if self.done >= self.units:
            raise Cancelled("cancelled by the test")


# --------------------------------------------------------------------------- full sessions


@pytest.mark.parametrize("mode", [GENERATE, LETTER_PROB])
@pytest.mark.parametrize("backend", BACKENDS)
def test_full_session_on_demo(demo_db, tiny_models, request, backend, mode):  # noqa: F811
    register(demo_db, backend, tiny_models, request)
    run_id = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, mode=mode))
    counts = run_session(demo_db, run_id)

    expected = DEMO_CLOSED + (DEMO_OPEN if mode == GENERATE else 0)
    assert counts["answered_now"] == counts["questions"] == expected
    assert counts["skipped_now"] == 0
    run = run_row(demo_db, run_id)
    assert run.status == "finished"

    rows = answer_rows(demo_db, run_id)
    assert len(rows) == expected
    closed = [row for row in rows if row.kind == CLOSED]
    assert len(closed) == DEMO_CLOSED
    assert sum(len(row.options) == 2 for row in closed) == DEMO_TWO_OPTION
    for row in closed:
        answer, letters = row.Answer, set(row.options)
        assert answer.skipped is None
        assert answer.parsed_letter is None or answer.parsed_letter in letters
        assert answer.is_correct is not None
        assert answer.prompt_tokens > 0
        assert answer.latency_ms > 0
        if mode == GENERATE:
            assert isinstance(answer.raw_output, str)
            assert answer.letter_probs is None
            assert answer.parse_rule in PARSED_RULES or answer.parse_rule.startswith("unparsed")
        else:
            assert answer.raw_output is None
            assert set(answer.letter_probs) == letters
            assert sum(answer.letter_probs.values()) == pytest.approx(1.0, abs=1e-9)
            assert 0 < answer.letter_mass <= 1
            assert answer.parse_rule == LETTER_PROBABILITY
            assert answer.parsed_letter == max(answer.letter_probs,
                                               key=lambda letter: answer.letter_probs[letter])
    two_option = [row.Answer for row in closed if len(row.options) == 2]
    assert all(answer.parsed_letter in (None, "A", "B") for answer in two_option)

    opened = [row.Answer for row in rows if row.kind == OPEN]
    assert len(opened) == expected - DEMO_CLOSED
    for answer in opened:
        assert isinstance(answer.raw_output, str)
        assert set(answer.scores) == {"keyword_recall_substring", "keyword_recall_word",
                                      "rouge_l", "bleu"}

    metrics = run_metrics(demo_db, run_id)
    outcomes = metrics["closed"]["outcomes"]
    assert metrics["closed"]["overall"]["total"] == DEMO_CLOSED
    assert outcomes["answered"] + outcomes["unparsed"] == DEMO_CLOSED
    assert metrics["closed"]["trap"]["total"] == 13
    if mode == LETTER_PROB:
        assert outcomes["unparsed"] == 0
    assert (metrics["open"] is not None) == (mode == GENERATE)

    described = run.config["answerer"]
    assert described["kind"] == "model"
    assert described["mode"] == mode
    assert described["model"]["backend"] == backend
    assert described["model"]["name"] == MODEL
    assert (run.template_id, run.template_version) == ("closed-letter", "1")
    assert described["settings"]["closed"]["max_new_tokens"] == 12
    if backend != "openai":
        assert len(described["model"]["sha256"]) == 64
        assert all(entry["bytes"] > 0 for entry in described["model"]["files"])
    if mode == GENERATE:
        assert described["open_template"] == {"id": "open", "version": "1"}

    by_item = defaultdict(list)
    for row in rows:
        by_item[row.item_id].append(row.Answer.provenance)
    for provenances in by_item.values():
        first = provenances[0]
        assert first["template"]["id"] in ("closed-letter", "open")
        assert first["model"]["name"] == MODEL
        assert first["backend"] == backend
        assert first["seed"] == 0
        assert first["settings"]["max_new_tokens"] == 12
        assert first["timings"]["total_s"] > 0
        assert len(first["images_sha256"]) == 1
        assert first["image"]["image_path"].endswith(".png")
        # One image per item, encoded once and reused by every later question.
        assert {tuple(p["images_sha256"]) for p in provenances} == {tuple(first["images_sha256"])}
        if backend != "openai":
            assert all(p["tokens"]["cached"] > 0 for p in provenances[1:])


def test_prompts_list_only_own_letters(demo_db, tiny_models, request):  # noqa: F811
    register(demo_db, "transformers", tiny_models, request)
    for setting in ("rejection-aware", "standard"):
        answerer = model_answerer(demo_db, MODEL, None, LETTER_PROB, None, 0)
        with demo_db.session() as session:
            benchmark_id = session.scalar(select(BenchmarkItem.benchmark_id).limit(1))
            plan = load_plan(session, benchmark_id, setting, include_open=False)
        assert not answerer.model.loaded
        for question in plan.questions:
            prompt = answerer.request_for(question)
            text = prompt.messages[-1]["content"][-1]["text"]
            letters = list(question.options)
            assert prompt.valid_letters == tuple(letters)
            for letter in "ABCDE":
                assert (f"\n{letter}. " in text) == (letter in letters), (setting, text)
            phrase = "A or B" if letters == ["A", "B"] else ", ".join(letters[:-1]) + f" or {letters[-1]}"
            assert f"({phrase})" in text
        answerer.close()


# --------------------------------------------------------------------------- resume


def test_resume_continues_and_rejects_changed_model(demo_db, tiny_models, tmp_path):  # noqa: F811
    folder = tmp_path / "llava"
    shutil.copytree(tiny_models.llava(), folder)
    add_model(demo_db, MODEL, "transformers", path=folder, settings=dict(GENERATION))
    spec = dict(benchmark=DEMO_BENCHMARK, model=MODEL, limit=2 * QUESTIONS_PER_ITEM)
    straight = create_run(demo_db, RunSpec(name="straight", **spec))
    run_session(demo_db, straight)

    resumed = create_run(demo_db, RunSpec(name="resumed", **spec))
    with pytest.raises(Cancelled):
        run_session(demo_db, resumed, CancelAfter(QUESTIONS_PER_ITEM))
    assert len(answer_rows(demo_db, resumed)) == QUESTIONS_PER_ITEM
    counts = run_session(demo_db, resumed)
    assert counts["answered_before"] == counts["answered_now"] == QUESTIONS_PER_ITEM
    outputs = {row.Answer.question_id: row.Answer.raw_output for row in answer_rows(demo_db, resumed)}
    reference = {row.Answer.question_id: row.Answer.raw_output for row in answer_rows(demo_db, straight)}
    assert outputs == reference

    changed = create_run(demo_db, RunSpec(name="changed", **spec))
    with pytest.raises(Cancelled):
        run_session(demo_db, changed, CancelAfter(QUESTIONS_PER_ITEM))
    with (folder / "model.safetensors").open("ab") as weights:
        weights.write(b"\0")
    with pytest.raises(WorkbenchError, match="changed model files, template or settings"):
        run_session(demo_db, changed)
    assert run_row(demo_db, changed).status == "cancelled"
    assert len(answer_rows(demo_db, changed)) == QUESTIONS_PER_ITEM


def test_hash_computed_after_creation(demo_db, tiny_models):  # noqa: F811
    add_model(demo_db, MODEL, "transformers", path=tiny_models.llava(), settings=dict(GENERATION),
              compute_hash=False)
    run_id = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, limit=6))
    record = store_hashes(demo_db, MODEL)
    run_session(demo_db, run_id)

    assert run_row(demo_db, run_id).config["answerer"]["model"]["sha256"] is None
    rows = answer_rows(demo_db, run_id)
    assert len(rows) == 6
    assert {row.Answer.provenance["model"]["sha256"] for row in rows} == {record.sha256}


# --------------------------------------------------------------------------- configuration errors


def test_invalid_configurations_write_nothing(demo_db, tiny_models, request):  # noqa: F811
    register(demo_db, "transformers", tiny_models, request)
    register(demo_db, "llama.cpp", tiny_models, request, name="gguf")
    cases = [
        (RunSpec(benchmark=DEMO_BENCHMARK, model="ghost"), NotFoundError,
         "model 'ghost' not found; register it first"),
        (RunSpec(benchmark=DEMO_BENCHMARK, model="gguf", adapter="lora"), InvalidInputError,
         "model 'gguf' uses llama.cpp; adapters load on transformers models only"),
        (RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, adapter="lora"), NotFoundError,
         "adapter 'lora' of model 'tiny' not found"),
        (RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, template="open"), InvalidInputError,
         "prompt template 'open' has kind open, but generate sessions need a closed-question "
         "template of kind closed or closed-reasoning; use one of closed-letter, closed-reasoning"),
        (RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, mode=LETTER_PROB,
                 template="closed-reasoning"), InvalidInputError,
         "letter-prob sessions need a closed-question template of kind closed; use one of "
         "closed-letter"),
        (RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, template="closed-letter.v9"),
         NotFoundError, "prompt template closed-letter v9 not found"),
    ]
    for spec, error, message in cases:
        with pytest.raises(error, match=message):
            create_run(demo_db, spec)
    with demo_db.session() as session:
        assert session.scalars(select(Run)).all() == []


def test_reasoning_template_session(demo_db, tiny_models, request):  # noqa: F811
    register(demo_db, "transformers", tiny_models, request)
    run_id = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL,
                                         template="closed-reasoning.v1", limit=6))
    run_session(demo_db, run_id)

    run = run_row(demo_db, run_id)
    assert (run.template_id, run.template_version) == ("closed-reasoning", "1")
    rows = answer_rows(demo_db, run_id)
    assert len(rows) == 6
    assert {row.Answer.provenance["template"]["id"] for row in rows} == {"closed-reasoning"}
    assert all(isinstance(row.Answer.raw_output, str) for row in rows)


def test_split_reasoning():
    assert split_reasoning("<think>C fits, or B.</think>\nFinal: B") == ("Final: B", "C fits, or B.")
    assert split_reasoning("<think>still thinking about A") == ("", "still thinking about A")
    assert split_reasoning("Answer: A") == ("Answer: A", None)
    assert split_reasoning("A <think> is a tag") == ("A <think> is a tag", None)


def test_cli_run_and_unknown_model(demo_db, tiny_models, request):  # noqa: F811
    register(demo_db, "transformers", tiny_models, request)
    url = demo_db.url
    result = run_cli(url, "bench", "run", "--benchmark", DEMO_BENCHMARK, "--model", MODEL,
                     "--limit", "8", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["closed"]["overall"]["total"] == 6
    assert metrics["open"]["total"] == 2
    assert metrics["run"]["model"] == MODEL

    missing = run_cli(url, "bench", "run", "--benchmark", DEMO_BENCHMARK, "--model", "ghost",
                      "--limit", "8")
    assert missing.returncode == 1
    assert missing.stderr == ("error: model 'ghost' not found; register it first, or use a "
                              "baseline such as baseline:random\n")
    with demo_db.session() as session:
        assert session.scalars(select(Run.model_name)).all() == [MODEL]


# --------------------------------------------------------------------------- judge


def test_judge_stores_raw_verdicts(demo_db, tiny_models, request):  # noqa: F811
    register(demo_db, "transformers", tiny_models, request)
    register(demo_db, "llama.cpp", tiny_models, request, name="judge")
    run_id = create_run(demo_db, RunSpec(benchmark=DEMO_BENCHMARK, model=MODEL, judge="judge",
                                         limit=QUESTIONS_PER_ITEM))
    counts = run_session(demo_db, run_id)

    run = run_row(demo_db, run_id)
    assert run.config["judge"] == "judge"
    assert run.config["judge_model"]["model"]["backend"] == "llama.cpp"
    with demo_db.session() as session:
        judged = session.execute(
            select(Judgement, Answer.raw_output, Question.stem, Question.reference_answer,
                   Question.keywords)
            .join(Answer, Judgement.answer_id == Answer.id)
            .join(Question, Answer.question_id == Question.id)
            .where(Answer.run_id == run_id).order_by(Judgement.id)).all()
    texts = [row.Answer.raw_output for row in answer_rows(demo_db, run_id) if row.kind == OPEN]
    assert counts["judged"] == len(judged) == sum(bool(text) for text in texts) > 0
    for row in judged:
        judgement = row.Judgement
        expected = render_judge_prompt(row.stem, row.reference_answer or "", row.keywords or (),
                                       row.raw_output)
        assert judgement.judge_model_name == "judge"
        assert judgement.prompt == expected.text
        assert isinstance(judgement.raw_verdict, str)
        # Random text rarely contains "Score: N"; the score is whatever the reply states.
        assert judgement.score == parse_verdict(judgement.raw_verdict)
    summary = run_metrics(demo_db, run_id)["judge"]["judge"]
    assert summary["judged"] == len(judged)
