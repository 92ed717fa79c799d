"""The silver-label fields, their allowed values and the mapping of free-text values onto them.

A silver label is a flat dict with the keys of :data:`FIELDS`:

- ``lesion_found``: True, False, or None when the model gave no usable answer;
- ``modality``: one of :data:`MODALITIES` ("unknown" when the model says it cannot tell);
- ``location``: one of the nine image-frame cells of :data:`LOCATIONS`;
- six signs (:data:`SIGNS`), each a value of :data:`SIGN_VALUES` or None.

Fusion and audit may also write the general terms of :data:`GENERAL_TERMS` ("Present" for
enhancement and oedema, "Round/Oval" and "Irregular/Lobulated" for shape); model output never
may, so extraction accepts only :data:`SIGN_VALUES`.
"""

from __future__ import annotations

import re

LESION_FOUND = "lesion_found"
MODALITY = "modality"
LOCATION = "location"
SIGNS = ("shape", "margins", "texture", "enhancement", "oedema", "signal_intensity")
FIELDS = (LESION_FOUND, MODALITY, LOCATION, *SIGNS)

T1, T1CE, T2, FLAIR, UNKNOWN = "T1", "T1CE", "T2", "FLAIR", "unknown"
MODALITIES = (T1, T1CE, T2, FLAIR, UNKNOWN)

# Image-frame cells: rows Upper/Center/Lower by thirds of the height, columns by thirds of
# the width, as in the mask-semantics location rule.
LOCATIONS = ("Upper-Left", "Upper-Center", "Upper-Right", "Center-Left", "Center",
             "Center-Right", "Lower-Left", "Lower-Center", "Lower-Right")

SIGN_VALUES = {
    "shape": ("Round", "Oval", "Irregular", "Lobulated"),
    "margins": ("Well-circumscribed", "Ill-defined"),
    "texture": ("Homogeneous", "Heterogeneous"),
    "enhancement": ("Solid", "Ring", "Patchy"),
    "oedema": ("Mild", "Extensive"),
    "signal_intensity": ("Hyperintense", "Hypointense", "Isointense", "Mixed"),
}

PRESENT = "Present"
ROUND_OVAL = "Round/Oval"
IRREGULAR_LOBULATED = "Irregular/Lobulated"
# The less specific value that fusion or audit may put in place of a specific one.
GENERAL_TERMS = {
    "shape": {"Round": ROUND_OVAL, "Oval": ROUND_OVAL, "Irregular": IRREGULAR_LOBULATED,
              "Lobulated": IRREGULAR_LOBULATED},
    "enhancement": {value: PRESENT for value in SIGN_VALUES["enhancement"]},
    "oedema": {value: PRESENT for value in SIGN_VALUES["oedema"]},
}
STORED_SIGN_VALUES = {
    field: values + tuple(sorted(set(GENERAL_TERMS.get(field, {}).values())))
    for field, values in SIGN_VALUES.items()
}

# Sign fields that exist only on some modalities.
ENHANCEMENT_MODALITIES = (T1CE,)
OEDEMA_MODALITIES = (T2, FLAIR)

# Written by a model to say "no value"; mapped to None without a problem.
NULL_WORDS = frozenset({"", "null", "none", "nan", "na", "n/a", "unknown", "undetermined",
                        "notassessable", "notapplicable", "notspecified", "notvisible",
                        "cannotbedetermined", "indeterminate", "unclear"})

_SEPARATORS = re.compile(r"[\s\-_/.,;:()]+")


def comparison_key(text: str) -> str:
    """Return ``text`` lower-cased without spaces, hyphens, underscores, slashes or dots."""
    return _SEPARATORS.sub("", text.casefold())


def _keys(mapping: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table = {}
    for canonical, spellings in mapping.items():
        table[comparison_key(canonical)] = canonical
        for spelling in spellings:
            table[comparison_key(spelling)] = canonical
    return table


_MODALITY_SPELLINGS = _keys({
    T1: ("t1w", "t1 weighted", "t1-weighted", "t1 native", "t1 precontrast", "t1 pre-contrast"),
    T1CE: ("t1 contrast", "t1_contrast", "t1+c", "t1 c", "t1c", "t1gd", "t1-gd", "t1 post",
           "t1 postcontrast", "t1 post-contrast", "post-contrast t1", "postcontrast t1",
           "contrast-enhanced t1", "t1 contrast-enhanced", "t1 with contrast", "t1ce",
           "t1 gadolinium"),
    T2: ("t2w", "t2 weighted", "t2-weighted"),
    FLAIR: ("t2 flair", "t2-flair", "t2flair", "flair weighted"),
    UNKNOWN: ("unknown", "indeterminate", "cannot be determined", "unclear", "not sure"),
})

_SIGN_SPELLINGS = {
    "shape": _keys({"Round": ("circular", "round-shaped", "rounded", "spherical"),
                    "Oval": ("ovoid", "oval-shaped", "elliptical", "ellipsoid"),
                    "Irregular": ("irregular-shaped", "irregularly shaped"),
                    "Lobulated": ("lobular", "multilobulated", "multi-lobulated"),
                    ROUND_OVAL: (), IRREGULAR_LOBULATED: ()}),
    "margins": _keys({"Well-circumscribed": ("well circumscribed", "circumscribed",
                                             "well-defined", "well defined", "sharp",
                                             "sharply defined"),
                      "Ill-defined": ("ill defined", "poorly defined", "poorly-defined",
                                      "indistinct", "infiltrative", "blurred")}),
    "texture": _keys({"Homogeneous": ("homogenous", "uniform"),
                      "Heterogeneous": ("heterogenous", "inhomogeneous", "non-uniform")}),
    "enhancement": _keys({"Solid": ("solid enhancement", "homogeneous enhancement"),
                          "Ring": ("ring enhancement", "ring-enhancing", "ring enhancing",
                                   "rim", "rim enhancement", "peripheral"),
                          "Patchy": ("patchy enhancement", "heterogeneous enhancement"),
                          PRESENT: ()}),
    "oedema": _keys({"Mild": ("minimal", "slight", "mild edema", "mild oedema"),
                     "Extensive": ("marked", "severe", "extensive edema", "extensive oedema"),
                     PRESENT: ()}),
    "signal_intensity": _keys({"Hyperintense": ("hyper", "hyperintensity", "bright", "high"),
                               "Hypointense": ("hypo", "hypointensity", "dark", "low"),
                               "Isointense": ("iso", "isointensity"),
                               "Mixed": ("mixed intensity", "mixed signal")}),
}

_VERTICAL = {"upper": "Upper", "top": "Upper", "lower": "Lower", "bottom": "Lower",
             "center": "Center", "centre": "Center", "middle": "Center", "central": "Center"}
_HORIZONTAL = {"left": "Left", "right": "Right", "center": "Center", "centre": "Center",
               "middle": "Center", "central": "Center"}
_LOCATION_FILLER = frozenset({"region", "of", "the", "image", "quadrant", "area", "side",
                              "part", "portion", "in", "slice", "field", "view"})


def is_null_word(value: object) -> bool:
    """Return True for None and the strings a model writes for "no value"."""
    return value is None or (isinstance(value, str) and comparison_key(value) in NULL_WORDS)


def canonical_modality(value: object) -> str | None:
    """Return the canonical modality for a spelling such as "T1_Contrast", else None."""
    if not isinstance(value, str):
        return None
    return _MODALITY_SPELLINGS.get(comparison_key(value))


def canonical_sign(field: str, value: object, *, general: bool = False) -> str | None:
    """Return the canonical value of sign ``field`` for a spelling, else None.

    General terms ("Present", "Round/Oval", ...) are accepted only with ``general``.
    """
    if not isinstance(value, str):
        return None
    canonical = _SIGN_SPELLINGS[field].get(comparison_key(value))
    if canonical is None:
        return None
    if not general and canonical not in SIGN_VALUES[field]:
        return None
    return canonical


def canonical_location(value: object) -> str | None:
    """Return the 3x3 cell named by ``value``, else None.

    Accepts "Upper-Left", "upper left region", "Center of the Image", "center-right", the
    mask-semantics labels ("Lower-Center Region") and "left upper". One word that names a
    side only ("upper", "left") is not a cell and gives None.
    """
    if not isinstance(value, str):
        return None
    words = [word for word in re.split(r"[\s\-_/,]+", value.casefold()) if word]
    words = [word for word in words if word not in _LOCATION_FILLER]
    if words in (["center"], ["centre"], ["middle"], ["central"]):
        return "Center"
    if len(words) != 2:
        return None
    for vertical, horizontal in (words, words[::-1]):
        row, column = _VERTICAL.get(vertical), _HORIZONTAL.get(horizontal)
        if row and column:
            return "Center" if (row, column) == ("Center", "Center") else f"{row}-{column}"
    return None


def location_from_semantics(label: str | None) -> str | None:
    """Return the cell of a mask-semantics location label ("Upper-Left Region")."""
    return canonical_location(label) if label else None


def semantics_location_label(cell: str) -> str:
    """Return the mask-semantics spelling of a cell: "Upper-Left Region", "Center of the Image"."""
    return "Center of the Image" if cell == "Center" else f"{cell} Region"


def empty_fields() -> dict[str, object]:
    """Return a silver label with every field None."""
    return {field: None for field in FIELDS}
