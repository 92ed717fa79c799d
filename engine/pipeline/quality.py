"""Precision and omission of silver labels against clinician reviews.

A review of a silver-label field (``Review.target == "silver_label"``) records a verdict:
"agree" (the stored value is right, also when it is empty) or "disagree", with the
reviewer's value in ``corrected_label`` (empty when the field should be empty). Each
reviewer's newest version counts once; withdrawn and flagged reviews are left out. Per
reviewed field:

- filled and agreed: a correct finding;
- filled and disagreed: a wrong finding (whether the reviewer corrects it or clears it);
- empty and disagreed with a corrected value: an omission (the reviewer reports a finding);
- empty and agreed: a correct abstention.

Precision is correct findings / (correct + wrong findings). The omission rate is
omissions / (reviewed fields whose reviewer value is a finding), where the reviewer value is
a finding for correct findings, for wrong findings corrected to another value, and for
omissions. Both are percentages, None without data.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Review, SilverLabel

COUNTED_VERDICTS = ("agree", "disagree")


def review_quality(session: Session, pipeline_run_id: int) -> dict[str, Any]:
    """Return precision and omission per silver-label stage and per field of one run."""
    newest = (select(func.max(Review.id))
              .where(Review.target == "silver_label")
              .group_by(Review.silver_label_id, Review.field, Review.reviewer))
    rows = session.execute(
        select(SilverLabel.stage, SilverLabel.fields, Review.field, Review.verdict,
               Review.corrected_label)
        .join(SilverLabel, SilverLabel.id == Review.silver_label_id)
        .where(Review.id.in_(newest), SilverLabel.pipeline_run_id == pipeline_run_id,
               Review.verdict.in_(COUNTED_VERDICTS))
    ).all()

    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(_zero))
    for stage, fields, name, verdict, corrected in rows:
        value = (fields or {}).get(name)
        outcome = classify(value, verdict, corrected)
        counts[stage][name][outcome] += 1
        counts[stage]["all"][outcome] += 1
    return {stage: {name: summarise(tally) for name, tally in by_field.items()}
            for stage, by_field in sorted(counts.items())}


def classify(value: Any, verdict: str, corrected: str | None) -> str:
    """Return correct, wrong, wrong_corrected, omission or abstention for one review."""
    filled = value is not None
    corrected = corrected.strip() if isinstance(corrected, str) else None
    if filled:
        if verdict == "agree":
            return "correct"
        return "wrong_corrected" if corrected and corrected != str(value) else "wrong"
    if verdict == "disagree" and corrected:
        return "omission"
    return "abstention"


def summarise(tally: dict[str, int]) -> dict[str, Any]:
    """Return the counts with precision and omission rate in percent (None without data)."""
    wrong = tally["wrong"] + tally["wrong_corrected"]
    asserted = tally["correct"] + wrong
    findings = tally["correct"] + tally["wrong_corrected"] + tally["omission"]
    return {
        **tally,
        "reviewed": sum(tally.values()),
        "precision": 100.0 * tally["correct"] / asserted if asserted else None,
        "omission_rate": 100.0 * tally["omission"] / findings if findings else None,
    }


def _zero() -> dict[str, int]:
    return {"correct": 0, "wrong": 0, "wrong_corrected": 0, "omission": 0, "abstention": 0}
