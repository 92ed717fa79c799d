"""The closed questions of one run with their outcome, and its confusion matrix.

The comparison window lists these rows when a run, a question type or a confusion-matrix
cell is chosen, and opens the item of a row in the viewer. Rows follow the run's plan, as
the metrics do: a question without an answer row is ``missing``, and the options are those
the run's setting prompted (no rejection option in the standard setting).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select

from db.models import Answer, Run
from db.session import Database
from engine.bench.metrics import ANSWERED, MISSING, SKIPPED, UNPARSED
from engine.bench.plan import CLOSED, load_plan
from engine.bench.questions import REJECTION_LETTER, normalise_option_text
from engine.errors import NotFoundError

DIAGNOSIS = "diagnosis"


@dataclass(frozen=True)
class QuestionOutcome:
    """One closed question of a run: gold and predicted letter and option text, outcome.

    ``item_pk`` is the benchmark item's database id (for ``open_item``), ``slice_id`` the
    linked slice or None. ``predicted`` and ``predicted_text`` are None unless the outcome
    is ``answered``.
    """

    question_id: int
    answer_id: int | None
    item_pk: int
    item_id: int
    slice_id: int | None
    q_index: int
    question_type: str
    stem: str
    is_trap: bool
    gold: str
    gold_text: str
    predicted: str | None
    predicted_text: str | None
    outcome: str
    parse_rule: str | None

    @property
    def correct(self) -> bool:
        return self.outcome == ANSWERED and self.predicted == self.gold

    @property
    def gold_label(self) -> str:
        """The gold option's text, or its letter when the option has no text."""
        return self.gold_text or self.gold

    @property
    def predicted_label(self) -> str:
        """The predicted option's text (or letter), or the outcome when nothing was chosen."""
        if self.outcome != ANSWERED:
            return self.outcome
        return self.predicted_text or self.predicted or self.outcome


def question_outcomes(db: Database, run_id: int) -> list[QuestionOutcome]:
    """Return the run's closed questions in asking order; raise NotFoundError for no run."""
    with db.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} not found; it may have been deleted")
        config = dict(run.config or {})
        # The run's own plan, open questions included, so that ``limit`` cuts where it did.
        plan = load_plan(session, run.benchmark_id, run.setting,
                         bool(config.get("include_open")), config.get("limit"))
        answers = {row.question_id: row for row in session.execute(
            select(Answer.id, Answer.question_id, Answer.parsed_letter, Answer.skipped,
                   Answer.parse_rule).where(Answer.run_id == run_id))}

    outcomes = []
    for group in plan.groups:
        for question in group.questions:
            if question.kind != CLOSED:
                continue
            closed = question.closed
            answer = answers.get(question.question_id)
            outcome, letter = _outcome(answer)
            outcomes.append(QuestionOutcome(
                question_id=question.question_id, answer_id=answer.id if answer else None,
                item_pk=group.item_row_id, item_id=group.item_id, slice_id=group.slice_id,
                q_index=question.q_index, question_type=question.question_type,
                stem=question.stem, is_trap=closed.is_trap, gold=closed.gold,
                gold_text=str(closed.options.get(closed.gold, "")), predicted=letter,
                predicted_text=str(closed.options.get(letter, "")) if letter else None,
                outcome=outcome, parse_rule=answer.parse_rule if answer else None))
    return outcomes


def _outcome(answer) -> tuple[str, str | None]:  # noqa: ANN001 - a result row or None
    if answer is None:
        return MISSING, None
    if answer.skipped is not None:
        return SKIPPED, None
    if answer.parsed_letter is not None:
        return ANSWERED, answer.parsed_letter
    return UNPARSED, None


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts of (gold label, predicted label) pairs.

    Labels are option texts compared after normalising case, underscores and spacing, so
    "Glioma" and "glioma" share a row; each label is shown as first seen. Predicted labels
    also include "unparsed", "missing" and "skipped". Rows and columns are ordered by
    count, most frequent first, ties by label.
    """

    gold_labels: tuple[str, ...]
    predicted_labels: tuple[str, ...]
    counts: dict[tuple[str, str], int]

    def count(self, gold: str, predicted: str) -> int:
        return self.counts.get((gold, predicted), 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _key(label: str) -> str:
    return normalise_option_text(label) or label


def confusion_matrix(outcomes: Iterable[QuestionOutcome],
                     question_type: str | None = DIAGNOSIS) -> ConfusionMatrix:
    """Return the confusion matrix of ``outcomes`` of ``question_type`` (None: all types)."""
    shown: dict[str, str] = {}
    pairs: Counter[tuple[str, str]] = Counter()
    for outcome in outcomes:
        if question_type is not None and outcome.question_type != question_type:
            continue
        gold = shown.setdefault(_key(outcome.gold_label), outcome.gold_label)
        predicted = shown.setdefault(_key(outcome.predicted_label), outcome.predicted_label)
        pairs[(gold, predicted)] += 1

    def ordered(position: int) -> tuple[str, ...]:
        totals: Counter[str] = Counter()
        for pair, count in pairs.items():
            totals[pair[position]] += count
        return tuple(sorted(totals, key=lambda label: (-totals[label], label)))

    return ConfusionMatrix(ordered(0), ordered(1), dict(pairs))


def matching(outcomes: Iterable[QuestionOutcome], question_type: str | None = None,
             gold_label: str | None = None, predicted_label: str | None = None,
             trap: bool | None = None) -> list[QuestionOutcome]:
    """Return the outcomes that match every filter given (labels as the matrix shows them)."""
    rows = []
    for outcome in outcomes:
        if question_type is not None and outcome.question_type != question_type:
            continue
        if trap is not None and outcome.is_trap != trap:
            continue
        if gold_label is not None and _key(outcome.gold_label) != _key(gold_label):
            continue
        if predicted_label is not None and _key(outcome.predicted_label) != _key(predicted_label):
            continue
        rows.append(outcome)
    return rows


def outcomes_for_metric(outcomes: Iterable[QuestionOutcome], key: str) -> list[QuestionOutcome]:
    """Return the questions behind column ``key`` of the comparison table.

    ``type:<name>`` gives that question type, and ``trap`` and ``non_trap`` those items.
    ``false_rejection`` gives the non-trap questions answered with the rejection letter E,
    ``unparsed`` the unparsed answers. Any other key gives every question.
    """
    if key.startswith("type:"):
        return matching(outcomes, question_type=key.split(":", 1)[1])
    if key == "trap":
        return matching(outcomes, trap=True)
    if key == "non_trap":
        return matching(outcomes, trap=False)
    if key == "false_rejection":
        return [outcome for outcome in outcomes
                if not outcome.is_trap and outcome.predicted == REJECTION_LETTER]
    if key == "unparsed":
        return [outcome for outcome in outcomes if outcome.outcome == UNPARSED]
    return list(outcomes)
