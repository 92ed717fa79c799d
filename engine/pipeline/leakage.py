"""Anti-leakage checks: a question stem must not give its answer away.

A stem leaks when it contains its own answer (as a phrase of whole words) or any attribute
word of the slice's findings: the tumour type, the modality, the mask labels (size, shape,
spread, location) and the silver-label values. Words are compared in lower case after
mapping British spellings to American ones ("tumour" to "tumor", "oedema" to "edema",
"centre" to "center"); generic words such as "lesion", "image" or "region" never count.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from engine.pipeline.samples import Sample
from engine.pipeline.vocabulary import SIGNS, semantics_location_label

GENERIC_WORDS = frozenset({
    "a", "an", "the", "of", "and", "or", "with", "in", "on", "no", "not", "is", "are", "to",
    "lesion", "lesions", "region", "image", "slice", "visible", "weighted", "present", "mri",
    "scan", "brain", "mass", "finding", "findings", "type", "pattern",
})
_SPELLINGS = {"tumour": "tumor", "tumours": "tumors", "oedema": "edema", "centre": "center",
              "haemorrhage": "hemorrhage", "homogenous": "homogeneous",
              "heterogenous": "heterogeneous"}
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Return the lower-case words of ``text`` with British spellings mapped to American."""
    return [_SPELLINGS.get(word, word) for word in _WORD.findall(text.lower())]


def finding_words(sample: Sample, signs: dict[str, Any] | None,
                  extra: Iterable[str] = ()) -> frozenset[str]:
    """Return the attribute words of a sample's findings (see the module docstring)."""
    values: list[str] = [sample.tumour_type or "", sample.modality or "", *extra]
    if sample.mask is not None:
        values += [sample.mask.size, sample.mask.shape, sample.mask.spread, sample.mask.location]
    if signs:
        values += [str(signs[name]) for name in SIGNS if signs.get(name)]
        if signs.get("location"):
            values.append(semantics_location_label(signs["location"]))
    return frozenset(word for value in values for word in words(value)
                     if word not in GENERIC_WORDS)


def leak_problems(stem: str, answer: str | None, finding: frozenset[str]) -> list[str]:
    """Return why ``stem`` leaks (empty when it does not)."""
    problems = []
    stem_words = words(stem)
    if answer:
        answer_words = words(answer)
        if answer_words and _contains(stem_words, answer_words):
            problems.append(f"the stem contains its answer {answer!r}")
    leaked = sorted(set(stem_words) & finding)
    if leaked:
        problems.append(f"the stem contains finding word(s) {', '.join(leaked)}")
    return problems


def _contains(haystack: list[str], needle: list[str]) -> bool:
    width = len(needle)
    return any(haystack[index:index + width] == needle
               for index in range(len(haystack) - width + 1))
