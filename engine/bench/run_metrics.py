"""Metrics of a run, always recomputed from every stored answer of the run.

Each question of the run's plan becomes one record: no answer row is ``missing``, a row
with ``skipped`` set is ``skipped``, a parsed letter is ``answered``, anything else is
``unparsed``. Accuracy counts all but answered-and-correct as wrong. Open questions give
keyword recall, ROUGE-L and BLEU from the stored texts, plus the mean judge score per judge
model, and the run's clinician review agreement is reported beside its accuracy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import Answer, Benchmark, Judgement, Run
from db.session import Database
from engine.bench.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, mean_interval
from engine.bench.metrics import (ANSWERED, MISSING, SKIPPED, UNPARSED, closed_record,
                                  compute_closed_metrics)
from engine.bench.open_metrics import OpenRecord, compute_open_metrics
from engine.bench.plan import CLOSED, OPEN, load_plan
from engine.bench.run_catalog import get_run
from engine.bench.score import contract_summary
from engine.errors import NotFoundError
from engine.review import agreement_by_run

# Parse rules of baseline abstentions start with this (abstain-question-type, abstain-no-option...).
ABSTAIN_PREFIX = "abstain-"
NO_REVIEWS = {"reviewed": 0, "agree": 0, "disagree": 0, "flag": 0, "agreement": None}


def run_metrics(db: Database, run_id: int, seed: int = DEFAULT_SEED,
                resamples: int = DEFAULT_RESAMPLES) -> dict[str, Any]:
    """Return the run's metrics as a JSON-ready dict.

    Keys: ``run`` (identity and status), ``config``, ``answers`` (planned, stored and
    skipped counts), ``closed`` (all closed metrics), ``summary`` (the ``bench score``
    summary of them), ``open`` (None without open questions), ``judge`` (per judge model),
    ``review`` (clinician agreement), ``abstained`` (closed questions a baseline abstained on,
    which ``closed`` counts as unparsed). Raises NotFoundError for an unknown run id.
    """
    with db.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} not found; list runs with 'neuroonco bench runs'")
        benchmark = session.scalar(select(Benchmark.name).where(Benchmark.id == run.benchmark_id))
        config = dict(run.config or {})
        plan = load_plan(session, run.benchmark_id, run.setting,
                         bool(config.get("include_open")), config.get("limit"))
        answers = {row.question_id: row for row in session.execute(
            select(Answer.id, Answer.question_id, Answer.parsed_letter, Answer.skipped,
                   Answer.raw_output, Answer.parse_rule).where(Answer.run_id == run_id))}
        judgements = session.execute(
            select(Judgement.judge_model_name, Judgement.score)
            .join(Answer, Judgement.answer_id == Answer.id).where(Answer.run_id == run_id)
            .order_by(Judgement.id)).all()
        review = agreement_by_run(session).get(run_id, NO_REVIEWS)
        identity = _identity(run, benchmark)

    closed_records = []
    open_records = []
    abstained = 0
    for question in plan.questions:
        answer = answers.get(question.question_id)
        if question.kind == CLOSED:
            closed_records.append(closed_record(question.closed, *_outcome(answer)))
            abstained += _is_abstention(answer)
        else:
            open_records.append(_open_record(question, answer))

    closed = compute_closed_metrics(closed_records, seed, resamples)
    planned = {CLOSED: len(closed_records), OPEN: len(open_records)}
    stored = [answers[q.question_id] for q in plan.questions if q.question_id in answers]
    return {
        "run": identity,
        "config": config,
        "answers": {"planned": planned, "stored": len(stored),
                    "skipped": sum(answer.skipped is not None for answer in stored)},
        "accuracy": closed["overall"]["accuracy"],
        "abstained": {"count": abstained, "total": len(closed_records),
                      "rate": abstained / len(closed_records) if closed_records else None},
        "review": dict(review),
        "summary": contract_summary(closed),
        "closed": closed,
        "open": compute_open_metrics(open_records, seed, resamples) if open_records else None,
        "judge": _judge_scores(judgements, seed, resamples),
    }


def run_metrics_by_name(db: Database, name: str, **options: Any) -> dict[str, Any]:
    """Return :func:`run_metrics` of the run called ``name``."""
    with db.session() as session:
        run_id = get_run(session, name).id
    return run_metrics(db, run_id, **options)


def _outcome(answer) -> tuple[str | None, str]:  # noqa: ANN001 - a result row or None
    if answer is None:
        return None, MISSING
    if answer.skipped is not None:
        return None, SKIPPED
    if answer.parsed_letter is not None:
        return answer.parsed_letter, ANSWERED
    return None, UNPARSED


def _is_abstention(answer) -> bool:  # noqa: ANN001 - a result row or None
    """Return whether a closed answer is a baseline's abstention (counted as unparsed in ``closed``)."""
    return (answer is not None and answer.skipped is None and answer.parsed_letter is None
            and (answer.parse_rule or "").startswith(ABSTAIN_PREFIX))


def _open_record(question, answer) -> OpenRecord:  # noqa: ANN001
    if answer is None or answer.skipped is not None:
        prediction = None
    else:
        # An abstention (no text) is an empty answer, not a missing one.
        prediction = answer.raw_output or ""
    return OpenRecord(question_id=question.external_id or str(question.question_id),
                      question_type=question.question_type, reference=question.reference or "",
                      keywords=question.keywords, prediction=prediction)


def _judge_scores(judgements, seed: int, resamples: int) -> dict[str, dict]:  # noqa: ANN001
    by_model: dict[str, list[float | None]] = {}
    for model, score in judgements:
        by_model.setdefault(model, []).append(score)
    result = {}
    for model, scores in sorted(by_model.items()):
        valid = [score for score in scores if score is not None]
        result[model] = {
            "judged": len(scores), "scored": len(valid),
            "mean": sum(valid) / len(valid) if valid else None,
            "ci95": mean_interval(valid, f"judge/{model}", seed, resamples),
        }
    return result


def _identity(run: Run, benchmark: str) -> dict[str, Any]:
    return {
        "id": run.id, "name": run.name, "benchmark": benchmark, "model": run.model_name,
        "adapter": run.adapter_name, "setting": run.setting, "mode": run.mode,
        "seed": run.seed, "template_id": run.template_id,
        "template_version": run.template_version, "status": run.status,
        "external": run.external, "job_id": run.job_id,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
