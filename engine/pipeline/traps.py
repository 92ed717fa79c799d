"""Laying closed questions out on letters: trap items and seeded, balanced shuffling.

Five-option questions get the answer and three distractors on A-D and "None of the above"
on E, always last. A share of them (``trap_share``) become trap items: their correct option
is replaced by the next distractor of the pool, the gold letter is E, and the removed answer
is kept as the original answer. Two-option questions get no E and are never traps.

Everything is reproducible from ``seed``, and balanced:

- the number of traps is round(share x five-option questions), spread over the question
  types in proportion to their counts (largest remainders), among questions with a spare
  distractor;
- the gold positions of the other five-option questions are A, B, C, D in turn, then
  shuffled, so each letter is gold within one of the others; two-option questions likewise.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

from engine.pipeline.questions import NONE_OF_THE_ABOVE, SHOWN_DISTRACTORS, ClosedQuestion

LETTERS = "ABCD"
REJECTION_LETTER = "E"


@dataclass(frozen=True)
class LaidOut:
    """A closed question with its letters: ``options`` in letter order and the gold letter."""

    question: ClosedQuestion
    options: dict[str, str]
    gold: str
    is_trap: bool = False

    @property
    def original_answer(self) -> str | None:
        return self.question.answer if self.is_trap else None


def lay_out(questions: list[ClosedQuestion], trap_share: float, seed: int) -> list[LaidOut]:
    """Return ``questions`` (in their order) laid out on letters; see the module docstring."""
    traps = choose_traps(questions, trap_share, seed)
    five = [index for index, question in enumerate(questions)
            if not question.binary and index not in traps]
    binary = [index for index, question in enumerate(questions) if question.binary]
    positions = {**_balanced(five, 4, random.Random(f"{seed}:gold-positions")),
                 **_balanced(binary, 2, random.Random(f"{seed}:binary-positions"))}

    result = []
    for index, question in enumerate(questions):
        rng = random.Random(f"{seed}:{question.sample_id}:{question.question_type}:order")
        if question.binary:
            result.append(_binary(question, positions[index]))
        elif index in traps:
            result.append(_trap(question, rng))
        else:
            result.append(_five(question, positions[index], rng))
    return result


def choose_traps(questions: list[ClosedQuestion], share: float, seed: int) -> set[int]:
    """Return the indices of the questions chosen as trap items."""
    counts: dict[str, int] = defaultdict(int)
    eligible: dict[str, list[int]] = defaultdict(list)
    for index, question in enumerate(questions):
        if question.binary:
            continue
        counts[question.question_type] += 1
        if question.can_be_trap:
            eligible[question.question_type].append(index)
    total = math.floor(share * sum(counts.values()) + 0.5)

    quota = {name: min(math.floor(share * count), len(eligible[name]))
             for name, count in counts.items()}
    while sum(quota.values()) < total:
        open_types = [name for name in counts if quota[name] < len(eligible[name])]
        if not open_types:
            break
        # The type furthest below its exact share, ties by name for reproducibility.
        name = max(sorted(open_types), key=lambda key: share * counts[key] - quota[key])
        quota[name] += 1

    chosen: set[int] = set()
    for name in sorted(quota):
        rng = random.Random(f"{seed}:traps:{name}")
        chosen.update(rng.sample(eligible[name], quota[name]))
    return chosen


def _balanced(indices: list[int], slots: int, rng: random.Random) -> dict[int, int]:
    positions = [number % slots for number in range(len(indices))]
    rng.shuffle(positions)
    return dict(zip(indices, positions))


def _five(question: ClosedQuestion, position: int, rng: random.Random) -> LaidOut:
    texts = list(question.distractors[:SHOWN_DISTRACTORS])
    rng.shuffle(texts)
    texts.insert(position, question.answer)
    options = dict(zip(LETTERS, texts))
    options[REJECTION_LETTER] = NONE_OF_THE_ABOVE
    return LaidOut(question, options, LETTERS[position])


def _trap(question: ClosedQuestion, rng: random.Random) -> LaidOut:
    texts = list(question.distractors[:SHOWN_DISTRACTORS + 1])
    rng.shuffle(texts)
    options = dict(zip(LETTERS, texts))
    options[REJECTION_LETTER] = NONE_OF_THE_ABOVE
    return LaidOut(question, options, REJECTION_LETTER, is_trap=True)


def _binary(question: ClosedQuestion, position: int) -> LaidOut:
    texts = [question.distractors[0]]
    texts.insert(position, question.answer)
    return LaidOut(question, dict(zip("AB", texts)), "AB"[position])
