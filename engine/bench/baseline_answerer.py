"""The model-free baselines as session answerers.

Baselines need no image: random, always-E and majority read only the question, and the
semantics oracle reads the stored mask semantics of the item's slice. They answer closed
questions only and abstain on open ones, which is stored as such (no text, so every open
score is zero).
"""

from __future__ import annotations

from typing import Any, Sequence

from db.session import Database
from engine.bench.answerer import ImageInput, ModelAnswer
from engine.bench.baselines import (ALWAYS_E, BASELINES, MAJORITY, RANDOM, SEMANTICS_ORACLE,
                                    gold_letter_counts, make_baseline)
from engine.bench.oracle_semantics import item_semantics
from engine.bench.plan import CLOSED, Plan, SessionQuestion
from engine.errors import InvalidInputError

# Stored as the parse rule of a baseline's answer to an open question.
ABSTAIN_OPEN = "abstain-open-question"

_DESCRIPTIONS = {
    RANDOM: "uniform random letter among the question's own letters, seeded per question",
    ALWAYS_E: "the rejection option E wherever offered; abstains elsewhere",
    MAJORITY: "the letter most often gold in the setting, among the question's letters; "
              "reads the answer key, so it is a reference line, not a model result",
    SEMANTICS_ORACLE: "size, shape, spread and location from the stored mask semantics of "
                      "the item's slice; abstains on other question types",
}


def is_baseline(model_name: str) -> bool:
    return model_name in BASELINES


class BaselineAnswerer:
    """Answers with baseline ``name`` over the questions of one session's plan."""

    needs_image = False

    def __init__(self, db: Database, name: str, benchmark_id: int, plan: Plan,
                 seed: int = 0) -> None:
        if name not in BASELINES:
            raise InvalidInputError(f"unknown baseline {name!r}; use one of {', '.join(BASELINES)}")
        self.name = name
        self.seed = seed
        self._semantics = {}
        if name == SEMANTICS_ORACLE:
            with db.session() as session:
                self._semantics = item_semantics(session, benchmark_id)
        labels = {item_id: found.labels for item_id, found in self._semantics.items()}
        self._gold_counts = gold_letter_counts(plan.setting_questions)
        self._answer = make_baseline(name, plan.setting_questions, seed, labels)

    def describe(self) -> dict[str, Any]:
        description: dict[str, Any] = {"kind": "baseline", "name": self.name,
                                       "rule": _DESCRIPTIONS[self.name]}
        if self.name == RANDOM:
            description["seed"] = self.seed
        if self.name == MAJORITY:
            description["gold_letter_counts"] = dict(sorted(self._gold_counts.items()))
        if self.name == SEMANTICS_ORACLE:
            description["items_with_semantics"] = sum(
                found.labels is not None for found in self._semantics.values())
        return description

    def answer_image(self, image: ImageInput,
                     questions: Sequence[SessionQuestion]) -> list[ModelAnswer]:
        return [self._answer_one(image, question) for question in questions]

    def close(self) -> None:
        pass

    def _answer_one(self, image: ImageInput, question: SessionQuestion) -> ModelAnswer:
        provenance: dict[str, Any] = {"baseline": self.name}
        if question.kind != CLOSED:
            return ModelAnswer(rule=ABSTAIN_OPEN, provenance=provenance)
        chosen = self._answer(question.closed)
        if self.name == SEMANTICS_ORACLE:
            found = self._semantics.get(image.item_id)
            provenance["semantics"] = found.provenance if found is not None else None
        return ModelAnswer(raw_output=chosen.letter, letter=chosen.letter, rule=chosen.rule,
                           provenance=provenance)
