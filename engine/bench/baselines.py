"""Model-free baselines: pure functions from a question (as prompted in its setting) to an
answer, so that a session can run, and be compared, without any model.

- ``baseline:random``: a uniform choice among the question's own letters, seeded per
  question so that the answer does not depend on question order or on ``--limit``.
- ``baseline:always-e``: the rejection option E wherever the question offers it. Two-option
  questions, and every question of the standard setting, offer no E: the baseline abstains
  there (unparsed, so scored wrong) instead of guessing another letter.
- ``baseline:majority``: the letter that is most often the gold answer among all questions
  of the setting, restricted to the question's own letters (ties go to the earlier letter).
  It reads the gold answers of the benchmark it is scored on, so it measures the letter
  bias of the answer key, not an ability. It is a reference line, never a model result.
- ``baseline:semantics-oracle``: answers size, shape, spread and location questions from
  labels computed from the lesion mask, by matching option texts to the label; abstains on
  other question types and when no labels exist.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from engine.bench.questions import REJECTION_LETTER, ClosedQuestion, normalise_option_text
from engine.errors import InvalidInputError

RANDOM = "baseline:random"
ALWAYS_E = "baseline:always-e"
MAJORITY = "baseline:majority"
SEMANTICS_ORACLE = "baseline:semantics-oracle"
BASELINES = (RANDOM, ALWAYS_E, MAJORITY, SEMANTICS_ORACLE)

# Question types whose answer the mask semantics decide.
SEMANTIC_TYPES = ("size", "shape", "spread", "location")

# Rules stored as the answer's parse rule.
CHOSEN = "baseline"
ORACLE_MATCH = "oracle-match"
ORACLE_REJECTION = "oracle-rejection"
ABSTAIN_NO_OPTION = "abstain-no-option"
ABSTAIN_TYPE = "abstain-question-type"
ABSTAIN_NO_SEMANTICS = "abstain-no-semantics"
ABSTAIN_NO_MATCH = "abstain-no-match"
ABSTAIN_AMBIGUOUS = "abstain-ambiguous"

Semantics = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class BaselineAnswer:
    """The chosen letter, or None when the baseline abstains, and why."""

    letter: str | None
    rule: str


def answer_random(question: ClosedQuestion, seed: int) -> BaselineAnswer:
    """Return a uniform random letter among the question's own letters."""
    # random.Random turns a string seed into an integer without hash randomisation (seed
    # version 2), so the draw is the same in every Python run.
    rng = random.Random(f"{seed}:{question.item_id}:{question.q_index}")
    return BaselineAnswer(rng.choice(question.letters), CHOSEN)


def answer_always_e(question: ClosedQuestion) -> BaselineAnswer:
    if REJECTION_LETTER in question.options:
        return BaselineAnswer(REJECTION_LETTER, CHOSEN)
    return BaselineAnswer(None, ABSTAIN_NO_OPTION)


def gold_letter_counts(questions: Iterable[ClosedQuestion]) -> Counter[str]:
    """Count the gold letters of all questions of a setting (the majority baseline's key)."""
    return Counter(question.gold for question in questions)


def answer_majority(question: ClosedQuestion, gold_counts: Mapping[str, int]) -> BaselineAnswer:
    """Return the question's letter that is most often gold in ``gold_counts``."""
    best = max(question.letters, key=lambda letter: (gold_counts.get(letter, 0),
                                                     -question.letters.index(letter)))
    return BaselineAnswer(best, CHOSEN)


def answer_semantics_oracle(question: ClosedQuestion,
                            semantics: Semantics | None) -> BaselineAnswer:
    """Answer a size, shape, spread or location question from mask semantics labels.

    ``semantics`` maps a question type to the label computed from the mask (for example
    ``{"size": "Medium", "location": "Center of the Image"}``); None means the image has no
    mask. The option whose normalised text equals the normalised label is chosen. With no
    such option the answer is E when offered (the correct option was removed), else the
    oracle abstains. Two matching options make it abstain too.
    """
    if question.question_type not in SEMANTIC_TYPES:
        return BaselineAnswer(None, ABSTAIN_TYPE)
    label = (semantics or {}).get(question.question_type)
    if not label:
        return BaselineAnswer(None, ABSTAIN_NO_SEMANTICS)
    wanted = _semantic_form(label)
    matches = [letter for letter, text in question.options.items()
               if letter != REJECTION_LETTER and _semantic_form(text) == wanted]
    if len(matches) == 1:
        return BaselineAnswer(matches[0], ORACLE_MATCH)
    if len(matches) > 1:
        return BaselineAnswer(None, ABSTAIN_AMBIGUOUS)
    if REJECTION_LETTER in question.options:
        return BaselineAnswer(REJECTION_LETTER, ORACLE_REJECTION)
    return BaselineAnswer(None, ABSTAIN_NO_MATCH)


def _semantic_form(text: str) -> str:
    """Normalise a label or option so that "Small/Focal", "small or focal" and "Small and
    focal" compare equal. "Small" alone stays different because the benchmark offers it as
    a distractor next to "Small/Focal"."""
    text = normalise_option_text(text).replace("/", " ")
    words = [word for word in text.split() if word not in ("or", "and")]
    return " ".join(words)


def make_baseline(name: str, questions: Iterable[ClosedQuestion], seed: int = 0,
                  semantics: Mapping[int, Semantics | None] | None = None,
                  ) -> Callable[[ClosedQuestion], BaselineAnswer]:
    """Return the answer function of baseline ``name`` for the questions of one setting.

    ``semantics`` maps an item id to its mask semantics labels (oracle only).
    Raises InvalidInputError for an unknown baseline name.
    """
    if name == RANDOM:
        return lambda question: answer_random(question, seed)
    if name == ALWAYS_E:
        return answer_always_e
    if name == MAJORITY:
        counts = gold_letter_counts(questions)
        return lambda question: answer_majority(question, counts)
    if name == SEMANTICS_ORACLE:
        labels = dict(semantics or {})
        return lambda question: answer_semantics_oracle(question, labels.get(question.item_id))
    raise InvalidInputError(f"unknown baseline {name!r}; use one of {', '.join(BASELINES)}")
