"""The two settings built from the same closed questions, and the option lists of prompts.

Rejection-aware is the benchmark as released: five-option questions end with the rejection
option E "None of the above", and trap items have gold E. Standard removes the rejection
option and excludes trap items, which have no correct option left; two-option questions are
the same in both settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from engine.bench.questions import ClosedQuestion, is_rejection_text
from engine.errors import InvalidInputError

REJECTION_AWARE = "rejection-aware"
STANDARD = "standard"
SETTINGS = (REJECTION_AWARE, STANDARD)


def build_setting(questions: Iterable[ClosedQuestion], setting: str) -> list[ClosedQuestion]:
    """Return the questions as prompted in ``setting``, in input order.

    Raises InvalidInputError for an unknown setting, or in the standard setting for a
    question whose rejection option is not its last option (removing it would leave a gap
    in the letters, and letters are never reassigned).
    """
    if setting == REJECTION_AWARE:
        return list(questions)
    if setting != STANDARD:
        raise InvalidInputError(f"unknown setting {setting!r}; use one of {', '.join(SETTINGS)}")
    standard: list[ClosedQuestion] = []
    for question in questions:
        converted = standard_question(question)
        if converted is not None:
            standard.append(converted)
    return standard


def standard_question(question: ClosedQuestion) -> ClosedQuestion | None:
    """Return ``question`` without its rejection option, or None for a trap item."""
    if question.is_trap:
        return None
    rejection = [letter for letter, text in question.options.items() if is_rejection_text(text)]
    if not rejection:
        return question
    last = question.letters[-1]
    if rejection != [last]:
        raise InvalidInputError(
            f"item id {question.item_id} question {question.q_index} has the rejection option "
            f"at {', '.join(rejection)}, not only as its last option {last}; the standard "
            "setting removes only a last rejection option"
        )
    options = {letter: text for letter, text in question.options.items() if letter != last}
    return replace(question, options=options)


def letters_phrase(letters: Iterable[str]) -> str:
    """Return the valid letters as prompt text: ``A or B``, ``A, B, C, or D``."""
    letters = list(letters)
    if len(letters) == 1:
        return letters[0]
    if len(letters) == 2:
        return f"{letters[0]} or {letters[1]}"
    return ", ".join(letters[:-1]) + f", or {letters[-1]}"


def format_options(question: ClosedQuestion) -> str:
    """Return the question's own options, one ``X. text`` line each, in letter order."""
    return "\n".join(f"{letter}. {text}" for letter, text in question.options.items())
