"""The interface between a benchmark session and whatever answers its questions.

An answerer receives all questions about one image in one call, so that a model backend
can encode the image once and reuse it for every question. It returns one
:class:`ModelAnswer` per question, in the same order. The session parses, scores and
stores the answers; an answerer never writes to the database.

Baselines choose a letter themselves and say so by setting ``rule``; the session then
stores that letter and rule as they are. Models leave ``rule`` unset and the session reads
the letter from ``raw_output`` (generate mode) or ``letter_probs`` (letter-prob mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from engine.bench.plan import SessionQuestion


@dataclass(frozen=True, slots=True)
class ImageInput:
    """The image of one benchmark item.

    ``path`` is the image file under the benchmark's data root, or None when the image is
    missing. ``image_path`` is the benchmark's relative path and ``slice_id`` the imported
    slice the item links to, if any.
    """

    item_id: int
    image_path: str
    path: Path | None
    slice_id: int | None


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """An answerer's reply to one question.

    ``raw_output`` is the text as generated (None for a letter-probability answer or an
    abstention), ``reasoning`` separate thinking text if the backend returns it.
    ``letter_probs`` maps each of the question's letters to its probability and
    ``letter_mass`` is the probability the model put on letter tokens before normalising.
    ``latency_ms`` is this question's share of model time in milliseconds. ``letter`` and
    ``rule`` are set by answerers that decide the letter themselves (baselines); ``letter``
    None with a rule is an abstention. ``provenance`` is stored with the answer.
    """

    raw_output: str | None = None
    reasoning: str | None = None
    letter_probs: dict[str, float] | None = None
    letter_mass: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    letter: str | None = None
    rule: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


class Answerer(Protocol):
    """Answers the questions of a session, one image at a time.

    ``needs_image`` tells the session whether questions about a missing image can be asked
    at all; when it is True they are skipped and recorded as skipped.
    """

    needs_image: bool

    def describe(self) -> dict[str, Any]:
        """Return the answerer's provenance (model, files, hashes, rules), stored in the run's
        configuration."""
        ...

    def answer_image(self, image: ImageInput,
                     questions: Sequence[SessionQuestion]) -> list[ModelAnswer]:
        """Return one answer per question about ``image``, in the order of ``questions``."""
        ...

    def close(self) -> None:
        """Release models, servers and files held by the answerer."""
        ...
