"""What a reviewer can review on the shown slice or item, and which of it they have reviewed.

The queue of a slice is every run's answer to each of its questions (in the questions
panel's order), then the slice itself (its mask and semantics). A benchmark item without an
image has only its answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import Review
from engine.review import ReviewTarget
from engine.viewer.questions_view import QuestionView


@dataclass(frozen=True)
class ReviewItem:
    """One thing to review: a model answer or a slice, with this reviewer's current verdict.

    ``verdict`` is None while the reviewer has no current review of it (never reviewed,
    or the review was undone).
    """

    target: ReviewTarget
    label: str
    question_id: int | None
    verdict: str | None

    @property
    def reviewed(self) -> bool:
        return self.verdict is not None


def _current_verdicts(session: Session, reviewer: str, answer_ids: Sequence[int],
                      slice_id: int | None) -> dict[tuple[str, int], str]:
    targets = []
    if answer_ids:
        targets.append((Review.target == "answer") & Review.answer_id.in_(answer_ids))
    if slice_id is not None:
        targets.append((Review.target == "slice") & (Review.slice_id == slice_id))
    if not targets:
        return {}
    newest = (select(func.max(Review.id)).where(Review.reviewer == reviewer, or_(*targets))
              .group_by(Review.target, Review.answer_id, Review.slice_id))
    verdicts = {}
    for target, answer_id, review_slice_id, verdict in session.execute(
            select(Review.target, Review.answer_id, Review.slice_id, Review.verdict)
            .where(Review.id.in_(newest))):
        if verdict != "withdrawn":
            verdicts[(target, answer_id if target == "answer" else review_slice_id)] = verdict
    return verdicts


def review_items(session: Session, questions: Sequence[QuestionView], slice_id: int | None,
                 reviewer: str | None) -> list[ReviewItem]:
    """Return the review queue of a slice (or of an item without one when ``slice_id`` is None).

    Without a reviewer name every item counts as unreviewed.
    """
    answer_ids = [answer.answer_id for question in questions for answer in question.answers]
    verdicts = _current_verdicts(session, reviewer, answer_ids, slice_id) if reviewer else {}
    items = []
    for question in questions:
        for answer in question.answers:
            label = f"{question.question_type} #{question.q_index + 1} - {answer.run_name}"
            items.append(ReviewItem(ReviewTarget("answer", answer.answer_id), label,
                                    question.question_id, verdicts.get(("answer", answer.answer_id))))
    if slice_id is not None:
        items.append(ReviewItem(ReviewTarget("slice", slice_id), "this slice (mask and semantics)", None,
                                verdicts.get(("slice", slice_id))))
    return items


def next_unreviewed(items: Sequence[ReviewItem], after: int = -1) -> int | None:
    """Return the position of the first unreviewed item after position ``after``, or None."""
    for position in range(after + 1, len(items)):
        if not items[position].reviewed:
            return position
    return None
