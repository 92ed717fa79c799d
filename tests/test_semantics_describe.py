"""The coarse description template: every published description regenerated exactly, plus
the branches the published file does not contain (healthy, unknown and generic types)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.semantics.describe import coarse_description
from engine.semantics.rules import (LOCATION_LABELS, SHAPE_LABELS, SIZE_LABELS, SPREAD_LABELS,
                                    mask_semantics)

NO_MASK = (" No segmentation mask is available, so detailed morphological features"
           " (size, shape, location) cannot be determined.")

PUBLISHED = re.compile(
    r"A (?:(?P<modality>[A-Z0-9]+) )?brain MRI scan showing signs of (?P<type>[A-Z][a-z]+)\."
    r"(?P<modality_note> The specific imaging modality is unknown\.)?"
    r"(?:(?P<no_mask> No segmentation mask is available, so detailed morphological features"
    r" \(size, shape, location\) cannot be determined\.)"
    r"| The mass is (?P<size>[a-z/]+) and located in the (?P<location>[a-z -]+)\."
    r" It presents as a (?P<shape>[a-z/]+) structure and appears as (?P<spread>[a-z /]+)\.)"
)


def canonical(label: str, vocabulary: tuple[str, ...]) -> str:
    """Map a lower-cased label of the text back to the rules' label."""
    by_lower = {entry.lower(): entry for entry in vocabulary}
    assert label in by_lower, f"{label!r} is not one of {vocabulary}"
    return by_lower[label]


def parse(description: str) -> tuple[str, str | None, dict[str, str] | None]:
    """Return (tumour type, modality or None, semantics labels or None) of a description."""
    match = PUBLISHED.fullmatch(description)
    assert match, description
    modality = match["modality"]
    # The unknown-modality note appears exactly when no modality opens the sentence.
    assert (modality is None) == (match["modality_note"] is not None), description
    if match["no_mask"]:
        return match["type"].lower(), modality and modality.lower(), None

    spread = match["spread"]
    if spread.startswith("a "):
        spread = spread[2:]
        assert "solitary" in spread
    semantics = {
        "size": canonical(match["size"], SIZE_LABELS),
        "shape": canonical(match["shape"], SHAPE_LABELS),
        "spread": canonical(spread, SPREAD_LABELS),
        "location": canonical(match["location"], LOCATION_LABELS),
    }
    return match["type"].lower(), modality and modality.lower(), semantics


def test_every_published_description_regenerates(shared_data):
    entries = json.loads((shared_data / "step1_supplement_ready.json").read_text())
    with_mask = 0
    types = set()
    modalities = set()

    for entry in entries:
        description = entry["coarse_description"]
        tumor_type, modality, semantics = parse(description)
        regenerated = coarse_description(tumor_type, modality, semantics)
        assert regenerated == description, entry["sample_id"]
        with_mask += semantics is not None
        types.add(tumor_type)
        modalities.add(modality)

    assert len(entries) == 3973
    assert with_mask == 1059
    assert types == {"meningioma", "pituitary"}
    assert modalities == {None, "t1", "t1ce"}


def test_published_labels_cover_vocabulary(shared_data):
    entries = json.loads((shared_data / "step1_supplement_ready.json").read_text())
    seen = {"size": set(), "shape": set(), "spread": set(), "location": set()}

    for entry in entries:
        semantics = parse(entry["coarse_description"])[2]
        for key, value in (semantics or {}).items():
            seen[key].add(value)

    assert seen["size"] == set(SIZE_LABELS)
    assert seen["shape"] == set(SHAPE_LABELS)
    assert seen["spread"] == set(SPREAD_LABELS)
    assert seen["location"] == set(LOCATION_LABELS)


@pytest.mark.parametrize("tumor_type", ["healthy", "notumor", "No Tumor", " normal ", "CONTROL"])
def test_healthy_with_modality(tumor_type):
    assert coarse_description(tumor_type, "t2", None) == (
        "A T2 brain MRI scan. The scan appears normal with no visible pathological findings.")


def test_healthy_without_modality():
    assert coarse_description("healthy", None, None) == (
        "A brain MRI scan. The scan appears normal with no visible pathological findings."
        " The specific imaging modality is unknown.")


def test_healthy_ignores_semantics():
    semantics = {"size": "Medium", "shape": "Lobulated", "spread": "Solitary Lesion",
                 "location": "Center of the Image"}

    assert coarse_description("normal", "flair", semantics) == (
        "A FLAIR brain MRI scan. The scan appears normal with no visible pathological findings.")


@pytest.mark.parametrize("tumor_type", [None, "", "  ", "unknown", "NaN", "None", "null",
                                        "undefined"])
def test_unknown_type_without_mask(tumor_type):
    assert coarse_description(tumor_type, "flair", None) == (
        "A FLAIR brain MRI scan showing an abnormal mass. The specific tumor type is not labeled."
        + NO_MASK)


def test_unknown_type_and_modality_with_semantics():
    semantics = {"size": "Small/Focal", "shape": "Round/Oval",
                 "spread": "Dominant Core with Satellites", "location": "Lower-Left Region"}

    assert coarse_description("unknown", "unknown", semantics) == (
        "A brain MRI scan showing an abnormal mass. The specific imaging modality is unknown."
        " The specific tumor type is not labeled. The mass is small/focal and located in the"
        " lower-left region. It presents as a round/oval structure and appears as dominant core"
        " with satellites.")


@pytest.mark.parametrize("tumor_type", ["tumor", "Tumor", "brain tumor", "Brain Tumor "])
def test_generic_tumour(tumor_type):
    assert coarse_description(tumor_type, "t1ce", None) == (
        "A T1CE brain MRI scan showing a brain tumor. The specific histological subtype is not"
        " specified." + NO_MASK)


def test_generic_tumour_without_modality_with_semantics():
    semantics = {"size": "Large/Extensive", "shape": "Irregular/Spiculated",
                 "spread": "Scattered/Multifocal", "location": "Upper-Right Region"}

    assert coarse_description("tumor", None, semantics) == (
        "A brain MRI scan showing a brain tumor. The specific imaging modality is unknown."
        " The specific histological subtype is not specified. The mass is large/extensive and"
        " located in the upper-right region. It presents as a irregular/spiculated structure"
        " and appears as scattered/multifocal.")


@pytest.mark.parametrize("tumor_type, shown", [
    ("glioma", "Glioma"), ("GLIOMA", "Glioma"), ("neuronal_tumor", "Neuronal_Tumor"),
    ("pituitary tumor", "Pituitary Tumor"),
])
def test_typed_names_title_cased(tumor_type, shown):
    assert coarse_description(tumor_type, "t1", None) == (
        f"A T1 brain MRI scan showing signs of {shown}." + NO_MASK)


@pytest.mark.parametrize("modality", [None, "", "unknown", "None", "NAN", " undefined "])
def test_unknown_modalities(modality):
    assert coarse_description("glioma", modality, None) == (
        "A brain MRI scan showing signs of Glioma. The specific imaging modality is unknown."
        + NO_MASK)


def test_semantics_object_and_mapping_agree():
    mask = np.zeros((240, 240), np.uint8)
    mask[100:140, 100:140] = 255
    semantics = mask_semantics(mask)

    text = coarse_description("meningioma", "t1", semantics)

    assert text == coarse_description("meningioma", "t1", semantics.labels())
    assert text == (
        "A T1 brain MRI scan showing signs of Meningioma. The mass is medium and located in the"
        " center of the image. It presents as a round/oval structure and appears as a solitary"
        " lesion.")


def test_empty_semantics_mapping_means_no_mask():
    assert coarse_description("glioma", "t2", {}) == (
        "A T2 brain MRI scan showing signs of Glioma." + NO_MASK)


def test_incomplete_semantics_rejected():
    with pytest.raises(InvalidInputError, match="lack spread, location"):
        coarse_description("glioma", "t2", {"size": "Medium", "shape": "Lobulated"})
