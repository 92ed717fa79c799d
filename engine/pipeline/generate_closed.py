"""Closed questions of one sample, from templates (no model).

Sources and question types:

- metadata: diagnosis (five options with imaging mimics for a typed tumour; the two
  options Abnormal and Healthy for healthy slices and untyped tumours) and modality;
- mask semantics (slices with a lesion in their mask): size, shape, spread, location;
- silver labels (lesion-positive, accepted labels): margins, texture, oedema (two options),
  enhancement and signal intensity; shape and location only when the slice has no mask.

Wrong options are other values of the same attribute, then decoys that are false by the
slice's facts (such as "No visible lesion" for a slice whose mask has a lesion). General
terms ("Present", "Round/Oval") get no closed question, because their alternatives overlap.
"""

from __future__ import annotations

import random
from typing import Any

from engine.pipeline.mimics import MimicTable
from engine.pipeline.questions import MASK, METADATA, SILVER, ClosedQuestion
from engine.pipeline.samples import Sample
from engine.pipeline.vocabulary import (FLAIR, LOCATIONS, SIGN_VALUES, T1, T1CE, T2,
                                        comparison_key, semantics_location_label)
from engine.semantics.rules import (CENTER_OF_IMAGE, LOCATION_LABELS, SHAPE_LABELS, SIZE_LABELS,
                                    SPREAD_LABELS)

HEALTHY, ABNORMAL = "Healthy", "Abnormal"
NO_LESION = "No visible lesion"
MODALITY_TEXT = {T1: "T1-weighted", T1CE: "T1-weighted with contrast (T1CE)",
                 T2: "T2-weighted", FLAIR: "FLAIR"}
MODALITY_DECOYS = ("Diffusion-weighted (DWI)", "Proton density-weighted (PD)")
MODALITY_FACTS = {
    T1: "Cerebrospinal fluid is dark and white matter brighter than grey matter, the contrast "
        "of a T1-weighted image; the series is recorded as T1.",
    T1CE: "It is a T1-weighted image acquired after gadolinium, in which vessels, dural sinuses "
          "and enhancing tissue are bright; the series is recorded as T1CE.",
    T2: "Cerebrospinal fluid is bright and white matter darker than grey matter, the contrast "
        "of a T2-weighted image; the series is recorded as T2.",
    FLAIR: "The contrast is T2-like with the cerebrospinal fluid signal suppressed, which is "
           "FLAIR; the series is recorded as FLAIR.",
}

STEMS = {
    "diagnosis": ("What is the most likely diagnosis?",
                  "Which diagnosis best fits this MRI slice?",
                  "What is the most probable diagnosis for this slice?"),
    "diagnosis_binary": ("Which option describes this brain MRI slice?",
                         "How would you classify this brain MRI slice?"),
    "modality": ("Which MRI sequence is this image?",
                 "What is the imaging sequence of this slice?",
                 "Which MRI contrast weighting does this slice show?"),
    "size": ("What is the size category of the lesion?",
             "How would you grade the extent of the lesion on this slice?"),
    "shape": ("Which term best describes the outline of the lesion?",
              "How would you describe the shape of the lesion?"),
    "spread": ("How is the lesion distributed on this slice?",
               "Which pattern describes the number and arrangement of lesion foci?"),
    "location": ("In which part of the image is the lesion?",
                 "Where on this slice does the lesion lie?"),
    "margins": ("How do the margins of the lesion appear?",),
    "texture": ("How does the inside of the lesion appear?",),
    "enhancement": ("What enhancement pattern does the lesion show?",),
    "oedema": ("How much oedema surrounds the lesion?",),
    "signal_intensity": ("What is the signal intensity of the lesion compared with normal "
                         "white matter?",),
}
SIGN_WORDS = {"margins": "margins", "texture": "internal texture", "enhancement": "enhancement",
              "oedema": "surrounding oedema", "signal_intensity": "signal intensity",
              "shape": "shape", "location": "location"}


def closed_questions(sample: Sample, signs: dict[str, Any] | None, label_stage: str | None,
                     mimics: MimicTable, seed: int) -> list[ClosedQuestion]:
    """Return the closed questions of ``sample``.

    ``signs`` is the sample's accepted silver label (or None) and ``label_stage`` the stage
    it comes from ("audited" or "fused"). ``seed`` picks the stem variants.
    """
    rng = random.Random(f"{seed}:{sample.sample_id}:stems")
    maker = _Maker(sample, rng)
    lesion = sample.mask is not None or bool(signs and signs.get("lesion_found"))

    maker.diagnosis(mimics, lesion)
    if sample.modality:
        others = [MODALITY_TEXT[name] for name in MODALITY_TEXT if name != sample.modality]
        maker.add("modality", METADATA, MODALITY_TEXT[sample.modality],
                  [*others, *MODALITY_DECOYS], MODALITY_FACTS[sample.modality])
    if sample.mask is not None:
        _mask_questions(maker, sample)
    if signs and signs.get("lesion_found"):
        _sign_questions(maker, sample, signs, label_stage or "fused")
    return maker.questions


class _Maker:
    def __init__(self, sample: Sample, rng: random.Random) -> None:
        self.sample = sample
        self.rng = rng
        self.questions: list[ClosedQuestion] = []

    def add(self, question_type: str, source: str, answer: str, pool: list[str], fact: str,
            binary: bool = False, stem_key: str | None = None) -> None:
        seen = {comparison_key(answer)}
        distractors: list[str] = []
        for text in pool:
            key = comparison_key(text)
            if key not in seen:
                seen.add(key)
                distractors.append(text)
        stem = self.rng.choice(STEMS[stem_key or question_type])
        self.questions.append(ClosedQuestion(
            sample_id=self.sample.sample_id, slice_id=self.sample.slice_id,
            case_id=self.sample.case_id, question_type=question_type, source=source,
            stem=stem, answer=answer, distractors=tuple(distractors), fact=fact, binary=binary))

    def diagnosis(self, mimics: MimicTable, lesion: bool) -> None:
        tumour_class = self.sample.tumour_class
        if tumour_class == "healthy":
            self.add("diagnosis", METADATA, HEALTHY, [ABNORMAL],
                     "The case is recorded as healthy, without a tumour.", binary=True,
                     stem_key="diagnosis_binary")
        elif tumour_class == "tumor" or (tumour_class == "unknown" and lesion):
            fact = ("The case is recorded as a brain tumour without a subtype, so the slice is "
                    "abnormal." if tumour_class == "tumor"
                    else "A lesion is marked on this slice, so it is abnormal.")
            self.add("diagnosis", METADATA, ABNORMAL, [HEALTHY], fact, binary=True,
                     stem_key="diagnosis_binary")
        elif tumour_class != "unknown":
            diagnosis = mimics.diagnosis(tumour_class)
            fact = f"The case's recorded diagnosis is {diagnosis.answer.lower()}."
            if self.sample.mask is not None:
                mask = self.sample.mask
                fact += (f" On this slice the lesion is {mask.size.lower()}, "
                         f"{mask.shape.lower()} and {_spread_phrase(mask.spread)}, in the "
                         f"{mask.location.lower()}.")
            self.add("diagnosis", METADATA, diagnosis.answer, list(diagnosis.mimics), fact)


def _mask_questions(maker: _Maker, sample: Sample) -> None:
    mask = sample.mask
    percent = 100.0 * mask.area_ratio
    maker.add("size", MASK, mask.size,
              [*_others(SIZE_LABELS, mask.size), NO_LESION,
               *(["More than half of the image"] if mask.area_ratio < 0.5 else [])],
              f"The lesion covers {percent:.2f}% of the image area; the size categories are "
              "small/focal below 1%, medium from 1% to below 5%, and large/extensive from 5%.")
    maker.add("shape", MASK, mask.shape,
              [*_others(SHAPE_LABELS, mask.shape), NO_LESION,
               *(["Linear"] if mask.elongation < 3.0 else [])],
              _shape_fact(mask.shape, mask.circularity, mask.elongation))
    maker.add("spread", MASK, mask.spread,
              [*_others(SPREAD_LABELS, mask.spread), NO_LESION,
               *(["More than ten separate lesions"] if mask.components <= 10 else [])],
              _spread_fact(mask.spread, mask.components, mask.dominant_fraction))
    maker.add("location", MASK, mask.location,
              _shuffled(_others(LOCATION_LABELS, mask.location), maker.rng),
              location_fact(mask.centroid_x, mask.centroid_y, sample.width, sample.height,
                            mask.location))


def _sign_questions(maker: _Maker, sample: Sample, signs: dict[str, Any], stage: str) -> None:
    def fact(field: str, value: str) -> str:
        return (f"The {stage} silver label of this slice records the {SIGN_WORDS[field]} as "
                f"{value.lower()}.")

    if sample.mask is None:
        shape = signs.get("shape")
        if shape in SIGN_VALUES["shape"]:
            maker.add("shape", SILVER, shape, [*_others(SIGN_VALUES["shape"], shape), NO_LESION],
                      fact("shape", shape))
        cell = signs.get("location")
        if cell in LOCATIONS:
            label = semantics_location_label(cell)
            maker.add("location", SILVER, label,
                      _shuffled(_others(LOCATION_LABELS, label), maker.rng),
                      fact("location", label))
    for field in ("margins", "texture", "oedema"):
        value = signs.get(field)
        if value in SIGN_VALUES[field]:
            maker.add(field, SILVER, value, list(_others(SIGN_VALUES[field], value)),
                      fact(field, value), binary=True)
    enhancement = signs.get("enhancement")
    if enhancement in SIGN_VALUES["enhancement"]:
        maker.add("enhancement", SILVER, enhancement,
                  [*_others(SIGN_VALUES["enhancement"], enhancement), "No enhancement", NO_LESION],
                  fact("enhancement", enhancement))
    signal = signs.get("signal_intensity")
    if signal in SIGN_VALUES["signal_intensity"]:
        maker.add("signal_intensity", SILVER, signal,
                  [*_others(SIGN_VALUES["signal_intensity"], signal), NO_LESION],
                  fact("signal_intensity", signal))


def _others(values: tuple[str, ...], answer: str) -> list[str]:
    return [value for value in values if value != answer]


def _shuffled(values: list[str], rng: random.Random) -> list[str]:
    values = list(values)
    rng.shuffle(values)
    return values


def _spread_phrase(spread: str) -> str:
    return "a solitary lesion" if "solitary" in spread.lower() else spread.lower()


def _shape_fact(shape: str, circularity: float, elongation: float) -> str:
    measured = (f"The largest lesion component has a circularity of {circularity:.2f} and an "
                f"elongation of {elongation:.2f}; ")
    if shape == SHAPE_LABELS[0]:
        return measured + "a circularity below 0.5 is irregular/spiculated."
    if shape == SHAPE_LABELS[1]:
        return measured + ("a circularity of 0.8 or more with an elongation of at most 1.5 is "
                           "round/oval.")
    return measured + ("between irregular/spiculated (circularity below 0.5) and round/oval "
                       "(circularity 0.8 or more, elongation at most 1.5) the outline is "
                       "lobulated.")


def _spread_fact(spread: str, components: int, dominant_fraction: float) -> str:
    if components == 1:
        return "The mask has one connected lesion component, a solitary lesion."
    measured = (f"The mask has {components} separate lesion components, and the largest holds "
                f"{100 * dominant_fraction:.0f}% of the lesion area; ")
    if spread == SPREAD_LABELS[1]:
        return measured + "a share of 70% or more is a dominant core with satellites."
    return measured + "below 70% the lesions are scattered/multifocal."


def location_fact(x: float, y: float, width: int, height: int, label: str) -> str:
    """Return the sentence that places centroid (x, y) on the 3x3 grid of the image."""
    row = _third(y, height, ("upper", "middle", "lower"))
    column = _third(x, width, ("left", "middle", "right"))
    place = "the center of the image" if label == CENTER_OF_IMAGE else f"the {label.lower()}"
    return (f"The lesion's centroid lies at x={x:.0f}, y={y:.0f} in a {width} x {height} pixel "
            f"image, in the {row} third of the rows and the {column} third of the columns: "
            f"{place}.")


def _third(value: float, extent: int, names: tuple[str, str, str]) -> str:
    if value < extent / 3:
        return names[0]
    return names[1] if value < 2 * extent / 3 else names[2]
