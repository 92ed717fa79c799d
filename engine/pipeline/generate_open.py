"""Open questions of one sample, from templates (no model).

A slice with a lesion in its mask gets five questions in the order of the MM-NeuroOnco
open benchmark: Detail (size), Location, Detail (shape), Detail (spread), Reasoning. The
reference answers quote the mask facts: area in percent of the image, circularity and
elongation of the largest component, component count and the centroid in pixels.
``eval_keywords`` are the words of :data:`KEYWORD_VOCABULARY` that occur in the reference
answer as case-insensitive substrings (so "round" also matches "rounded"), as in the
published open benchmark.
"""

from __future__ import annotations

from typing import Any

from engine.pipeline.generate_closed import location_fact
from engine.pipeline.mimics import MimicTable
from engine.pipeline.questions import OpenQuestion
from engine.pipeline.samples import Sample
from engine.semantics.rules import (CENTER_OF_IMAGE, DOMINANT, IRREGULAR, LARGE, MEDIUM,
                                    ROUND, SMALL)

KEYWORD_VOCABULARY = ("center", "glioma", "irregular", "large", "left", "lobulated", "lower",
                      "medium", "meningioma", "multifocal", "oval", "pituitary", "right",
                      "round", "small", "solitary", "spiculated", "tumor", "upper")

STEMS = {
    "size": "How much of the image does the lesion occupy, and what size category is that?",
    "location": "Where does the lesion lie on this slice, judged by its centroid?",
    "shape": "Describe the outline of the lesion using its measured shape.",
    "spread": "How many separate lesion areas are there, and how are they arranged?",
    "reasoning": "What do the measured features of the lesion on this slice suggest?",
}
ORDER = (("Detail", "size"), ("Location", "location"), ("Detail", "shape"),
         ("Detail", "spread"), ("Reasoning", "reasoning"))
SIZE_PHRASES = {SMALL: "small (focal)", MEDIUM: "medium-sized", LARGE: "large (extensive)"}
SHAPE_PHRASES = {IRREGULAR: "irregular and spiculated", ROUND: "round or oval"}
SIGN_PHRASES = {"margins": "{} margins", "texture": "{} texture", "enhancement": "{} enhancement",
                "oedema": "{} oedema", "signal_intensity": "{} signal"}


def eval_keywords(reference_answer: str) -> tuple[str, ...]:
    """Return the vocabulary words found in ``reference_answer``, in vocabulary order."""
    text = reference_answer.lower()
    return tuple(word for word in KEYWORD_VOCABULARY if word in text)


def open_questions(sample: Sample, signs: dict[str, Any] | None,
                   mimics: MimicTable) -> list[OpenQuestion]:
    """Return the five open questions of a sample with a mask lesion, else an empty list."""
    if sample.mask is None:
        return []
    answers = {
        "size": _size_answer(sample),
        "location": location_fact(sample.mask.centroid_x, sample.mask.centroid_y,
                                  sample.width, sample.height, sample.mask.location),
        "shape": _shape_answer(sample),
        "spread": _spread_answer(sample),
        "reasoning": _reasoning_answer(sample, signs, mimics),
    }
    return [OpenQuestion(sample_id=sample.sample_id, slice_id=sample.slice_id,
                         case_id=sample.case_id, question_type=question_type, aspect=aspect,
                         order=order, stem=STEMS[aspect], reference_answer=answers[aspect],
                         keywords=eval_keywords(answers[aspect]))
            for order, (question_type, aspect) in enumerate(ORDER, start=1)]


def _size_answer(sample: Sample) -> str:
    mask = sample.mask
    return (f"The lesion covers {100 * mask.area_ratio:.2f}% of the image area, which makes it "
            f"{SIZE_PHRASES.get(mask.size, mask.size.lower())}.")


def _shape_answer(sample: Sample) -> str:
    mask = sample.mask
    # "main", not "largest": the keyword rule would find "large" inside "largest".
    return (f"The main lesion component has a circularity of {mask.circularity:.2f} and an "
            f"elongation of {mask.elongation:.2f}, so its outline is "
            f"{SHAPE_PHRASES.get(mask.shape, mask.shape.lower())}.")


def _spread_answer(sample: Sample) -> str:
    mask = sample.mask
    if mask.components == 1:
        return "There is one connected lesion component, so it is a solitary lesion."
    share = f"the biggest holds {100 * mask.dominant_fraction:.0f}% of the lesion area"
    if mask.spread == DOMINANT:
        return (f"There are {mask.components} separate components; {share}, a dominant core "
                "with satellites.")
    return (f"There are {mask.components} separate components; {share}, so the lesions are "
            "scattered and multifocal.")


def _reasoning_answer(sample: Sample, signs: dict[str, Any] | None, mimics: MimicTable) -> str:
    mask = sample.mask
    spread = "solitary" if mask.components == 1 else mask.spread.lower()
    where = ("the center of the image" if mask.location == CENTER_OF_IMAGE
             else f"the {mask.location.lower()}")
    scan = f"The {sample.modality} slice" if sample.modality else "The slice"
    text = (f"{scan} shows a {SIZE_PHRASES.get(mask.size, mask.size.lower())}, "
            f"{SHAPE_PHRASES.get(mask.shape, mask.shape.lower())}, {spread} lesion in {where} "
            f"(area {100 * mask.area_ratio:.2f}% of the image, circularity "
            f"{mask.circularity:.2f}, elongation {mask.elongation:.2f}, centroid "
            f"x={mask.centroid_x:.0f}, y={mask.centroid_y:.0f})")
    clauses = [SIGN_PHRASES[name].format(str(signs[name]).lower())
               for name in SIGN_PHRASES if signs and signs.get(name)]
    if clauses:
        text += ", with " + _join(clauses)
    return text + ". " + _diagnosis_sentence(sample, mimics)


def _diagnosis_sentence(sample: Sample, mimics: MimicTable) -> str:
    if sample.tumour_class == "tumor":
        return "These findings fit a brain tumor whose subtype is not recorded."
    if sample.tumour_class in ("unknown", "healthy"):
        return "The case's records give no tumour type for this lesion."
    answer = mimics.diagnosis(sample.tumour_class).answer.lower()
    return f"These findings fit the case's recorded diagnosis of {answer}."


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
