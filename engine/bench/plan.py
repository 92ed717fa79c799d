"""The questions of a session, read from the database in a fixed order and grouped by image.

A session asks the questions of its benchmark in item-id order; within an item the closed
questions come first, then the open ones, each by index. ``limit`` keeps the first N
questions of that order. The setting decides the closed questions as prompted: standard
removes the rejection option and leaves trap items out. Open questions belong to
generate-mode sessions only, because letter probabilities need options.

The plan is rebuilt from the same inputs on every resume and for every metrics call, so
a resumed session asks exactly the questions that are still unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import BenchmarkItem, Question
from engine.bench.questions import ClosedQuestion
from engine.bench.settings import build_setting

CLOSED = "closed"
OPEN = "open"


@dataclass(frozen=True, slots=True)
class SessionQuestion:
    """One question as a session asks it.

    ``question_id`` is the ``question`` row id. Closed questions carry ``closed``, the
    question as prompted in the session's setting (its own letters and gold); open
    questions carry ``reference`` and ``keywords`` (``eval_keywords``).
    """

    question_id: int
    kind: str
    item_id: int
    q_index: int
    question_type: str
    stem: str
    closed: ClosedQuestion | None = None
    reference: str | None = None
    keywords: tuple[str, ...] = ()
    external_id: str | None = None

    @property
    def options(self) -> dict[str, str]:
        """The ordered ``{letter: text}`` options of a closed question; empty for open ones."""
        return dict(self.closed.options) if self.closed is not None else {}


@dataclass
class ImageGroup:
    """The questions of one benchmark item (one image), answered in one answerer call."""

    item_row_id: int
    item_id: int
    image_path: str
    slice_id: int | None
    image_missing: bool
    questions: list[SessionQuestion] = field(default_factory=list)


@dataclass
class Plan:
    """A session's questions grouped by image, in asking order.

    ``setting_questions`` holds every closed question of the setting, also those cut by
    ``limit``: the majority baseline counts gold letters over the whole setting.
    """

    groups: list[ImageGroup]
    setting_questions: list[ClosedQuestion]

    @property
    def questions(self) -> list[SessionQuestion]:
        return [question for group in self.groups for question in group.questions]

    def count(self, kind: str) -> int:
        return sum(question.kind == kind for question in self.questions)


def load_plan(session: Session, benchmark_id: int, setting: str, include_open: bool,
              limit: int | None = None) -> Plan:
    """Build the plan of a session on benchmark ``benchmark_id``.

    Raises InvalidInputError (from the setting) for an unknown setting or a question whose
    rejection option cannot be removed.
    """
    items = session.execute(
        select(BenchmarkItem.id, BenchmarkItem.item_id, BenchmarkItem.image_path,
               BenchmarkItem.slice_id, BenchmarkItem.image_missing, BenchmarkItem.tumour_class,
               BenchmarkItem.source)
        .where(BenchmarkItem.benchmark_id == benchmark_id)
        .order_by(BenchmarkItem.item_id)
    ).all()
    rows = session.execute(
        select(Question.id, Question.item_id, Question.kind, Question.q_index,
               Question.question_type, Question.stem, Question.options, Question.gold_letter,
               Question.is_trap, Question.original_answer, Question.reference_answer,
               Question.keywords, Question.external_id)
        .join(BenchmarkItem, Question.item_id == BenchmarkItem.id)
        .where(BenchmarkItem.benchmark_id == benchmark_id)
        .order_by(BenchmarkItem.item_id, Question.kind, Question.q_index)
    ).all()

    item_by_row = {item.id: item for item in items}
    closed_by_id: dict[int, ClosedQuestion] = {}
    for row in rows:
        if row.kind == CLOSED:
            closed_by_id[row.id] = _closed_question(row, item_by_row[row.item_id])
    # build_setting keeps the input order, so a dict rebuilt from it keeps the row ids.
    prompted = build_setting(closed_by_id.values(), setting)
    by_key = {question.key: question for question in prompted}

    groups: dict[int, ImageGroup] = {}
    asked = 0
    for row in rows:
        if limit is not None and asked >= limit:
            break
        item = item_by_row[row.item_id]
        if row.kind == CLOSED:
            closed = by_key.get((item.item_id, row.q_index))
            if closed is None:
                continue  # a trap item in the standard setting
            question = SessionQuestion(row.id, CLOSED, item.item_id, row.q_index,
                                       row.question_type, row.stem, closed=closed)
        elif include_open:
            question = SessionQuestion(row.id, OPEN, item.item_id, row.q_index,
                                       row.question_type, row.stem,
                                       reference=row.reference_answer or "",
                                       keywords=tuple(row.keywords or ()),
                                       external_id=row.external_id)
        else:
            continue
        group = groups.get(item.id)
        if group is None:
            group = groups[item.id] = ImageGroup(item.id, item.item_id, item.image_path,
                                                 item.slice_id, bool(item.image_missing))
        group.questions.append(question)
        asked += 1
    return Plan(list(groups.values()), prompted)


def _closed_question(row, item) -> ClosedQuestion:  # noqa: ANN001 - result rows
    return ClosedQuestion(
        item_id=item.item_id, q_index=row.q_index, question_type=row.question_type,
        stem=row.stem, options=dict(row.options or {}), gold=row.gold_letter,
        is_trap=bool(row.is_trap), original_answer=row.original_answer,
        image_path=item.image_path, tumour_class=item.tumour_class, source=item.source,
    )
