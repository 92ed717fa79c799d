"""The MM-NeuroOnco coarse description: one short paragraph per image from its tumour type,
modality and mask semantics.

The wording reproduces the published template character for character (it regenerates all
3,973 descriptions of the MM-NeuroOnco v1.0 supplement file), including its grammar, e.g.
"a irregular/spiculated structure" and "signs of Pituitary".
"""

from __future__ import annotations

from typing import Mapping

from engine.errors import InvalidInputError
from engine.semantics.rules import MaskSemantics

# Case-insensitive values of the published template.
UNKNOWN_VALUES = frozenset({"unknown", "none", "null", "nan", "undefined"})
HEALTHY_VALUES = frozenset({"notumor", "no tumor", "healthy", "normal", "control"})
GENERIC_TUMOUR_VALUES = frozenset({"tumor", "brain tumor"})

HEALTHY_FINDING = "The scan appears normal with no visible pathological findings."
UNKNOWN_MODALITY_NOTE = " The specific imaging modality is unknown."
UNKNOWN_TYPE_NOTE = " The specific tumor type is not labeled."
GENERIC_TYPE_NOTE = " The specific histological subtype is not specified."
NO_MASK_SENTENCE = (" No segmentation mask is available, so detailed morphological features"
                    " (size, shape, location) cannot be determined.")
# Not in the published template, which describes single 2D images: a slice of a masked
# volume on which the mask has no lesion.
NO_LESION_ON_SLICE_SENTENCE = " The segmentation mask shows no lesion on this slice."

SEMANTICS_KEYS = ("size", "shape", "spread", "location")


def coarse_description(tumor_type: str | None, modality: str | None,
                       semantics: MaskSemantics | Mapping[str, str] | None,
                       mask_available: bool | None = None) -> str:
    """Build the coarse description of one image.

    ``tumor_type`` is a class name such as "glioma", "tumor" or "healthy". None, a blank
    string or an unknown value such as "unknown" mean the type is not labelled.
    ``modality`` is a modality name, or None, blank or "unknown" when it is not known.
    ``semantics`` are the mask semantics or a mapping with their four labels, or None when
    no mask is available. ``mask_available`` True with no semantics means a mask exists
    but shows no lesion on this slice (a slice of a volume). Healthy images get no
    morphology sentence. Raises InvalidInputError when a semantics mapping lacks one of the
    four labels.
    """
    opening, modality_note = _opening(modality)
    type_text = "" if tumor_type is None else str(tumor_type).strip()
    type_key = type_text.lower() or "unknown"

    if type_key in HEALTHY_VALUES:
        return f"{opening}. {HEALTHY_FINDING}{modality_note}"

    if type_key in UNKNOWN_VALUES:
        finding, type_note = "an abnormal mass", UNKNOWN_TYPE_NOTE
    elif type_key in GENERIC_TUMOUR_VALUES:
        finding, type_note = "a brain tumor", GENERIC_TYPE_NOTE
    else:
        finding, type_note = f"signs of {type_text.title()}", ""
    if not semantics and mask_available:
        morphology = NO_LESION_ON_SLICE_SENTENCE
    else:
        morphology = _morphology(semantics)
    return f"{opening} showing {finding}.{modality_note}{type_note}{morphology}"


def _opening(modality: str | None) -> tuple[str, str]:
    """Return the opening words and the unknown-modality note (empty when it is known)."""
    name = "" if modality is None else str(modality).strip()
    if not name or name.lower() in UNKNOWN_VALUES:
        return "A brain MRI scan", UNKNOWN_MODALITY_NOTE
    return f"A {name.upper()} brain MRI scan", ""


def _morphology(semantics: MaskSemantics | Mapping[str, str] | None) -> str:
    if isinstance(semantics, MaskSemantics):
        semantics = semantics.labels()
    if not semantics:
        return NO_MASK_SENTENCE

    missing = [key for key in SEMANTICS_KEYS if key not in semantics]
    if missing:
        raise InvalidInputError(
            f"semantics {dict(semantics)!r} lack {', '.join(missing)}; pass all four labels "
            "(size, shape, spread, location) or None when the image has no mask"
        )
    size, shape, spread, location = (str(semantics[key]).lower() for key in SEMANTICS_KEYS)
    spread_phrase = f"a {spread}" if "solitary" in spread else spread
    return (f" The mass is {size} and located in the {location}."
            f" It presents as a {shape} structure and appears as {spread_phrase}.")
