"""The questions panel's data: a slice's benchmark questions with every run's answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Answer, Benchmark, BenchmarkItem, Question, Run
from engine.bench.open_metrics import keyword_matches

CLOSED = "closed"
OPEN = "open"


@dataclass(frozen=True)
class AnswerView:
    """One run's answer to one question, with its provenance.

    ``keywords_hit`` and ``keywords_missed`` split an open question's keywords by whether
    the answer contains them (case-insensitive substrings, as the benchmark's keyword
    recall counts them). ``latency_ms`` is the model time of this question in milliseconds.
    """

    answer_id: int
    run_id: int
    run_name: str
    model: str
    adapter: str | None
    template: str | None
    mode: str
    parsed_letter: str | None
    parse_rule: str | None
    is_correct: bool | None
    raw_output: str | None
    reasoning: str | None
    letter_probs: dict[str, float] | None
    letter_mass: float | None
    latency_ms: float | None
    skipped: str | None
    scores: dict[str, Any] | None
    keywords_hit: tuple[str, ...] = ()
    keywords_missed: tuple[str, ...] = ()

    @property
    def model_label(self) -> str:
        return f"{self.model} + {self.adapter}" if self.adapter else self.model


@dataclass(frozen=True)
class QuestionView:
    """One benchmark question with its options, gold answer and the runs' answers.

    ``options`` keeps the benchmark's letter order. ``gold_letter`` is None for open
    questions, which have ``reference_answer`` and ``keywords`` instead.
    """

    question_id: int
    benchmark_id: int
    benchmark: str
    item_pk: int
    item_id: int
    image_path: str
    image_missing: bool
    slice_id: int | None
    kind: str
    q_index: int
    question_type: str
    stem: str
    options: tuple[tuple[str, str], ...]
    gold_letter: str | None
    is_trap: bool
    original_answer: str | None
    reference_answer: str | None
    keywords: tuple[str, ...]
    answers: tuple[AnswerView, ...]

    @property
    def gold_text(self) -> str | None:
        return dict(self.options).get(self.gold_letter) if self.gold_letter else None


def _template(run: Run) -> str | None:
    if not run.template_id:
        return None
    return f"{run.template_id} v{run.template_version}" if run.template_version else run.template_id


def _answer_view(answer: Answer, run: Run, question: Question) -> AnswerView:
    hit: tuple[str, ...] = ()
    missed: tuple[str, ...] = ()
    if question.kind == OPEN and question.keywords:
        found, absent = keyword_matches(answer.raw_output or "", list(question.keywords))
        hit, missed = tuple(found), tuple(absent)
    return AnswerView(
        answer_id=answer.id, run_id=run.id, run_name=run.name, model=run.model_name,
        adapter=run.adapter_name, template=_template(run), mode=run.mode,
        parsed_letter=answer.parsed_letter, parse_rule=answer.parse_rule,
        is_correct=answer.is_correct, raw_output=answer.raw_output, reasoning=answer.reasoning,
        letter_probs=dict(answer.letter_probs) if answer.letter_probs else None,
        letter_mass=answer.letter_mass, latency_ms=answer.latency_ms, skipped=answer.skipped,
        scores=dict(answer.scores) if answer.scores else None, keywords_hit=hit,
        keywords_missed=missed,
    )


def _questions(session: Session, *conditions) -> list[QuestionView]:
    rows = session.execute(
        select(Question, BenchmarkItem, Benchmark)
        .join(BenchmarkItem, BenchmarkItem.id == Question.item_id)
        .join(Benchmark, Benchmark.id == BenchmarkItem.benchmark_id)
        .where(*conditions)
        .order_by(Benchmark.name, BenchmarkItem.item_id, Question.kind, Question.q_index)
    ).all()
    question_ids = [question.id for question, _, _ in rows]
    answers: dict[int, list[AnswerView]] = {}
    if question_ids:
        answer_rows = session.execute(
            select(Answer, Run, Question).join(Run, Run.id == Answer.run_id)
            .join(Question, Question.id == Answer.question_id)
            .where(Answer.question_id.in_(question_ids)).order_by(Run.id)
        ).all()
        for answer, run, question in answer_rows:
            answers.setdefault(question.id, []).append(_answer_view(answer, run, question))
    return [
        QuestionView(
            question_id=question.id, benchmark_id=benchmark.id, benchmark=benchmark.name,
            item_pk=item.id, item_id=item.item_id, image_path=item.image_path,
            image_missing=item.image_missing, slice_id=item.slice_id, kind=question.kind,
            q_index=question.q_index, question_type=question.question_type, stem=question.stem,
            options=tuple((letter, str(text)) for letter, text in (question.options or {}).items()),
            gold_letter=question.gold_letter, is_trap=question.is_trap,
            original_answer=question.original_answer, reference_answer=question.reference_answer,
            keywords=tuple(question.keywords or ()), answers=tuple(answers.get(question.id, ())),
        )
        for question, item, benchmark in rows
    ]


def questions_for_slice(session: Session, slice_id: int) -> list[QuestionView]:
    """Return every question of every benchmark item linked to slice ``slice_id``."""
    return _questions(session, BenchmarkItem.slice_id == slice_id)


def questions_for_item(session: Session, item_pk: int) -> list[QuestionView]:
    """Return the questions of benchmark item row ``item_pk`` (the item's database id)."""
    return _questions(session, BenchmarkItem.id == item_pk)
