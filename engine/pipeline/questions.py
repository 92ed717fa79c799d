"""Generated questions before their options are laid out on letters.

A closed question keeps its correct answer and a pool of wrong options (distractors) in
order of preference. :mod:`engine.pipeline.traps` later picks the trap items and assigns
letters, so the same questions can be laid out again with another seed or trap share (the
benchmark export does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NONE_OF_THE_ABOVE = "None of the above"
SHOWN_DISTRACTORS = 3  # options A-D: the answer and three distractors
# Question sources: case and series metadata, mask semantics, or silver labels.
METADATA, MASK, SILVER = "metadata", "mask", "silver"
# The question types of the MM-NeuroOnco v1.0 closed benchmark.
BENCHMARK_TYPES = ("diagnosis", "modality", "size", "shape", "spread", "location")


@dataclass(frozen=True)
class ClosedQuestion:
    """A multiple-choice question of one sample.

    ``binary`` questions have exactly one distractor and no rejection option. Five-option
    questions have at least three distractors; a fourth makes them eligible as trap items.
    ``fact`` is the sentence that justifies the answer, used for reasoning answers.
    """

    sample_id: str
    slice_id: int
    case_id: int
    question_type: str
    source: str
    stem: str
    answer: str
    distractors: tuple[str, ...]
    fact: str
    binary: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.sample_id, self.question_type)

    @property
    def can_be_trap(self) -> bool:
        return not self.binary and len(self.distractors) > SHOWN_DISTRACTORS

    def to_meta(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies and takes most of the generation time.
        return {"sample_id": self.sample_id, "slice_id": self.slice_id, "case_id": self.case_id,
                "question_type": self.question_type, "source": self.source, "stem": self.stem,
                "answer": self.answer, "distractors": list(self.distractors), "fact": self.fact,
                "binary": self.binary}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ClosedQuestion:
        names = cls.__dataclass_fields__
        values = {name: meta[name] for name in names}
        values["distractors"] = tuple(values["distractors"])
        return cls(**values)


@dataclass(frozen=True)
class OpenQuestion:
    """A free-text question with a reference answer that quotes the mask facts.

    ``question_type`` is Detail, Location or Reasoning; ``aspect`` what it asks about
    (size, shape, spread, location, reasoning); ``order`` its position among the sample's
    open questions.
    """

    sample_id: str
    slice_id: int
    case_id: int
    question_type: str
    aspect: str
    order: int
    stem: str
    reference_answer: str
    keywords: tuple[str, ...]

    def to_meta(self) -> dict[str, Any]:
        return {"sample_id": self.sample_id, "slice_id": self.slice_id, "case_id": self.case_id,
                "question_type": self.question_type, "aspect": self.aspect, "order": self.order,
                "stem": self.stem, "reference_answer": self.reference_answer,
                "keywords": list(self.keywords)}
