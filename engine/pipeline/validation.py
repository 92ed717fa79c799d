"""Validating a model's silver-label JSON into the canonical fields.

Accepts the flat form of :mod:`engine.pipeline.schema` and the published nested form
(``meta_info`` with ``predicted_modality``, ``predicted_location`` and ``lesion_found`` as
the strings "True"/"False", ``structured_signs`` with ``edema``). Every value outside its
allowed set becomes None, and each such change is returned as a note, so nothing is
repaired silently. Then the modality rules apply:

- a label without a lesion has no location and no signs;
- enhancement exists only on T1CE, oedema only on T2 and FLAIR;
- signal intensity is None when the modality is unknown or missing.
"""

from __future__ import annotations

import re
from typing import Any

from engine.pipeline.vocabulary import (ENHANCEMENT_MODALITIES, FIELDS, LESION_FOUND, LOCATION,
                                        MODALITY, OEDEMA_MODALITIES, SIGN_VALUES, SIGNS, UNKNOWN,
                                        canonical_location, canonical_modality, canonical_sign,
                                        comparison_key, empty_fields, is_null_word)

# Key spellings (compared without case and separators) and the field each names.
KEY_ALIASES = {
    "lesionfound": LESION_FOUND, "lesion": LESION_FOUND, "haslesion": LESION_FOUND,
    "tumorpresent": LESION_FOUND, "tumourpresent": LESION_FOUND,
    "modality": MODALITY, "predictedmodality": MODALITY, "sequence": MODALITY,
    "location": LOCATION, "predictedlocation": LOCATION, "lesionlocation": LOCATION,
    "shape": "shape", "margins": "margins", "margin": "margins", "border": "margins",
    "borders": "margins", "texture": "texture", "enhancement": "enhancement",
    "enhancementpattern": "enhancement", "oedema": "oedema", "edema": "oedema",
    "peritumoraledema": "oedema", "peritumoraloedema": "oedema",
    "signalintensity": "signal_intensity", "signal": "signal_intensity",
    "intensity": "signal_intensity",
}
# Wrapper objects whose members are fields.
CONTAINER_KEYS = frozenset({"metainfo", "structuredsigns", "signs", "label", "labels",
                            "silverlabel", "fields", "findings"})
# Keys a reply may carry besides the fields; dropped without a note.
IGNORED_KEYS = frozenset({"reasoning", "rationale", "explanation", "notes", "comment",
                          "additionalclues", "additionalfindings", "confidence", "evidence",
                          "whatwherewhy", "threew", "3w"})

_TRUE = frozenset({"true", "yes", "present", "1"})
_FALSE = frozenset({"false", "no", "absent", "0", "none"})


def validate_label(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the canonical fields of a decoded reply and the notes on what was changed."""
    notes: list[str] = []
    values = _collect(raw, notes)
    fields = empty_fields()

    fields[LESION_FOUND] = _lesion_found(values.get(LESION_FOUND, None), notes)
    fields[MODALITY] = _value(values, MODALITY, canonical_modality, notes,
                              "T1, T1CE, T2, FLAIR or unknown")
    fields[LOCATION] = _value(values, LOCATION, canonical_location, notes,
                              "the nine cells Upper-Left ... Lower-Right")
    for sign in SIGNS:
        fields[sign] = _value(values, sign, lambda value, sign=sign: canonical_sign(sign, value),
                              notes, ", ".join(SIGN_VALUES[sign]))

    apply_modality_rules(fields, notes)
    return fields, notes


def apply_modality_rules(fields: dict[str, Any], notes: list[str]) -> None:
    """Clear fields that the lesion decision or the modality rules exclude, noting each."""
    if fields[LESION_FOUND] is False:
        for name in (LOCATION, *SIGNS):
            if fields[name] is not None:
                notes.append(f"{name} {fields[name]!r} cleared because lesion_found is false")
                fields[name] = None

    modality = fields[MODALITY]
    if fields["enhancement"] is not None and modality not in ENHANCEMENT_MODALITIES:
        notes.append(f"enhancement {fields['enhancement']!r} cleared because the modality is "
                     f"{modality or 'missing'}; enhancement exists only on T1CE")
        fields["enhancement"] = None
    if fields["oedema"] is not None and modality not in OEDEMA_MODALITIES:
        notes.append(f"oedema {fields['oedema']!r} cleared because the modality is "
                     f"{modality or 'missing'}; oedema is read only on T2 and FLAIR")
        fields["oedema"] = None
    if fields["signal_intensity"] is not None and modality in (None, UNKNOWN):
        notes.append(f"signal_intensity {fields['signal_intensity']!r} cleared because the "
                     "modality is unknown")
        fields["signal_intensity"] = None


def _collect(raw: dict[str, Any], notes: list[str], depth: int = 0) -> dict[str, Any]:
    """Flatten ``raw`` into {field: value}; later spellings of a field do not overwrite."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = comparison_key(str(key))
        if name in CONTAINER_KEYS and isinstance(value, dict) and depth < 2:
            for field, inner in _collect(value, notes, depth + 1).items():
                values.setdefault(field, inner)
        elif name in KEY_ALIASES:
            values.setdefault(KEY_ALIASES[name], value)
        elif name not in IGNORED_KEYS:
            notes.append(f"ignored unknown key {str(key)!r}")
    return values


def _lesion_found(value: Any, notes: list[str]) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        notes.append("lesion_found is missing")
        return None
    if isinstance(value, str):
        word = re.sub(r"\W+", "", value.casefold())
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    notes.append(f"lesion_found {value!r} is not true or false; set to null")
    return None


def _value(values: dict[str, Any], field: str, canonical, notes: list[str],  # noqa: ANN001
           allowed: str) -> str | None:
    value = values.get(field)
    if value is None:
        return None
    result = canonical(value)
    if result is None and not is_null_word(value):
        notes.append(f"{field} {value!r} is not one of {allowed}; set to null")
    return result


def label_is_complete(fields: dict[str, Any] | None) -> bool:
    """Return True when ``fields`` has every field key (values may be None)."""
    return isinstance(fields, dict) and all(name in fields for name in FIELDS)
