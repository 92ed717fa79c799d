"""Closed-question metrics, always recomputed from the full list of per-question records.

Every accuracy counts unparsed, missing and skipped questions as wrong. Each accuracy and
rate carries a seeded 95% percentile bootstrap interval over questions (``ci95``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from engine.bench.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, LEVEL, proportion_interval
from engine.bench.questions import REJECTION_LETTER, ClosedQuestion

ANSWERED = "answered"
UNPARSED = "unparsed"
MISSING = "missing"    # no prediction was stored for the question
SKIPPED = "skipped"    # the session skipped the question, for example because its image is missing
OUTCOMES = (ANSWERED, UNPARSED, MISSING, SKIPPED)

# Question types of the MM-NeuroOnco closed benchmark, in the order reports list them.
QUESTION_TYPES = ("diagnosis", "modality", "size", "shape", "spread", "location")
UNKNOWN_GROUP = "unknown"


@dataclass(frozen=True, slots=True)
class ClosedRecord:
    """One question's outcome: ``letters`` are the letters the prompt offered (``"ABCDE"``),
    ``predicted`` the parsed letter when ``outcome`` is ``answered``, else None."""

    item_id: int
    q_index: int
    question_type: str
    letters: str
    gold: str
    predicted: str | None
    outcome: str
    is_trap: bool = False
    tumour_class: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if self.gold not in self.letters:
            raise ValueError(f"gold {self.gold!r} is not among the letters {self.letters!r}")
        if (self.outcome == ANSWERED) != (self.predicted is not None):
            raise ValueError("predicted must be a letter exactly when the outcome is answered")
        if self.predicted is not None and self.predicted not in self.letters:
            raise ValueError(f"predicted {self.predicted!r} is not among the letters "
                             f"{self.letters!r}")

    @property
    def key(self) -> tuple[int, int]:
        return (self.item_id, self.q_index)

    @property
    def correct(self) -> bool:
        return self.predicted == self.gold

    @property
    def option_count(self) -> int:
        return len(self.letters)


def closed_record(question: ClosedQuestion, predicted: str | None, outcome: str) -> ClosedRecord:
    """Build the record of ``question`` (as prompted in its setting) with its outcome."""
    return ClosedRecord(
        item_id=question.item_id, q_index=question.q_index,
        question_type=question.question_type, letters="".join(question.letters),
        gold=question.gold, predicted=predicted, outcome=outcome, is_trap=question.is_trap,
        tumour_class=question.tumour_class, source=question.source,
    )


def compute_closed_metrics(records: Iterable[ClosedRecord], seed: int = DEFAULT_SEED,
                           resamples: int = DEFAULT_RESAMPLES) -> dict:
    """Return all closed-question metrics as a JSON-ready dict.

    Raises ValueError when two records share an item id and question index.
    """
    records = list(records)
    seen: set[tuple[int, int]] = set()
    for record in records:
        if record.key in seen:
            raise ValueError(f"two records for item id {record.item_id} question "
                             f"{record.q_index}; each question is scored once")
        seen.add(record.key)

    def accuracy(name: str, subset: list[ClosedRecord]) -> dict:
        correct = sum(record.correct for record in subset)
        return {"total": len(subset), "correct": correct,
                "accuracy": correct / len(subset) if subset else None,
                "ci95": proportion_interval(correct, len(subset), name, seed, resamples)}

    def rate(name: str, count: int, total: int) -> dict:
        return {"total": total, "count": count, "rate": count / total if total else None,
                "ci95": proportion_interval(count, total, name, seed, resamples)}

    def grouped(name: str, group_of: Callable[[ClosedRecord], str], order=()) -> dict:
        groups: dict[str, list[ClosedRecord]] = {}
        for record in records:
            groups.setdefault(group_of(record), []).append(record)
        keys = [key for key in order if key in groups]
        keys += sorted(key for key in groups if key not in order)
        return {key: accuracy(f"{name}/{key}", groups[key]) for key in keys}

    outcomes = Counter(record.outcome for record in records)
    answerable_with_rejection = [record for record in records
                                 if not record.is_trap and REJECTION_LETTER in record.letters]
    return {
        "overall": accuracy("overall", records),
        "outcomes": {outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        "unparsed_rate": rate("unparsed", outcomes.get(UNPARSED, 0), len(records)),
        "by_type": grouped("type", lambda r: r.question_type, QUESTION_TYPES),
        "by_option_count": grouped("options", lambda r: str(r.option_count)),
        "trap": accuracy("trap", [record for record in records if record.is_trap]),
        "non_trap": accuracy("non-trap", [record for record in records if not record.is_trap]),
        # False rejection: E chosen on a question whose gold answer is a real option.
        "false_rejection": rate(
            "false-rejection",
            sum(record.predicted == REJECTION_LETTER for record in answerable_with_rejection),
            len(answerable_with_rejection),
        ),
        "letters": _letter_distribution(records, rate),
        "by_tumour_class": grouped("tumour-class", lambda r: r.tumour_class or UNKNOWN_GROUP),
        "by_source": grouped("source", lambda r: r.source or UNKNOWN_GROUP),
        "bootstrap": {"method": "percentile, questions resampled with replacement",
                      "level": LEVEL, "resamples": resamples, "seed": seed},
    }


def _letter_distribution(records: list[ClosedRecord],
                         rate: Callable[[str, int, int], dict]) -> dict:
    letters = sorted({letter for record in records for letter in record.letters})
    gold = Counter(record.gold for record in records)
    predicted = Counter(record.predicted if record.predicted is not None else record.outcome
                        for record in records)
    total = len(records)
    return {
        # The gold distribution is fixed by the benchmark, so it has no interval.
        "gold": {letter: {"total": total, "count": gold.get(letter, 0),
                          "rate": gold.get(letter, 0) / total if total else None}
                 for letter in letters},
        "predicted": {key: rate(f"predicted/{key}", predicted.get(key, 0), total)
                      for key in [*letters, UNPARSED, MISSING, SKIPPED]},
    }
