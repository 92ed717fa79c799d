"""Guessing the MRI contrast (T1, T1CE, T2, FLAIR) of a DICOM series.

The evidence, strongest first: the coded AcquisitionContrast of enhanced MR objects;
keywords in the series description, protocol and sequence names; and the timing
parameters (TR, TE, TI). The description texts are free text that may identify people, so
callers pass them in memory only and only the resulting label is kept.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

# Coded AcquisitionContrast values (enhanced MR) and the label each gives.
ACQUISITION_CONTRAST = {
    "T1": "T1",
    "T2": "T2",
    "FLUID_ATTENUATED": "FLAIR",
    "DIFFUSION": "other",
    "PERFUSION": "other",
    "FLOW_ENCODED": "other",
    "PROTON_DENSITY": "other",
    "T2_STAR": "other",
    "DIFFUSION_ANISO": "other",
}

# Keyword patterns on the lower-cased description text, with "_", "-" and "." turned into
# spaces. A keyword may not be preceded by a letter or digit; "t1" may be followed by
# letters (T1TFE, T1w) but not by a digit.
_START = r"(?<![a-z0-9])"
OTHER_PATTERN = re.compile(
    _START + r"(dwi|diffusion|adc|trace|dti|tensor|swi|swan|t2 ?\*|t2 ?star|perf\w*|dsc|dce|asl|"
    r"bold|fmri|locali[sz]er|scout|survey|tof|angio\w*|mra|pd|proton)(?![a-z0-9])"
)
T1CE_EXPLICIT_PATTERN = re.compile(_START + r"(t1 ?ce|t1 ?c|t1 ?\+ ?c|t1 ?gd|t1 ?post)(?![a-z0-9])")
CONTRAST_PATTERN = re.compile(_START + r"(gd|gad\w*|gado\w*|contrast|post\w*|ce|\+ ?c)(?![a-z0-9])")
FLAIR_PATTERN = re.compile(_START + r"(flair|tirm|dark ?fluid|fluid attenuated)")
T1_PATTERN = re.compile(_START + r"(t1(?![0-9])|mp ?rage|spgr|bravo|tfe|flash|vibe)")
T2_PATTERN = re.compile(_START + r"t2(?![0-9])")

# Timing rules (milliseconds), conventional at 1.5 and 3 T: FLAIR nulls fluid with a long
# inversion time; T1 weighting uses short TR and TE (or an inversion time below 1.5 s);
# T2 weighting uses long TR and TE.
FLAIR_MIN_TI = 1500.0
LONG_TE = 70.0
SHORT_TE = 30.0
SHORT_TR = 1000.0
LONG_TR = 2000.0


def guess_modality(metadata: dict[str, Any], descriptions: Iterable[str]) -> str:
    """Return "T1", "T1CE", "T2", "FLAIR", "other" or "unknown" for one series.

    ``metadata`` is the allow-listed dict of :func:`engine.io.deid.technical_metadata`;
    ``descriptions`` are in-memory texts (series description, protocol and sequence names).
    Non-MR series are "other"; an MR series without any evidence is "unknown".
    """
    modality = str(metadata.get("Modality") or "MR").upper()
    if modality != "MR":
        return "other"
    text = _normalise(descriptions)
    contrast = bool(metadata.get("ContrastAgent")) or bool(CONTRAST_PATTERN.search(text))

    label = ACQUISITION_CONTRAST.get(str(metadata.get("AcquisitionContrast") or "").upper())
    if label is None:
        label = _from_keywords(text)
    if label is None:
        label = _from_timing(metadata)
    if label == "T1" and contrast:
        return "T1CE"
    return label or "unknown"


def _normalise(descriptions: Iterable[str]) -> str:
    joined = " ".join(str(text) for text in descriptions if text)
    return re.sub(r"[_\-.\\/]", " ", joined.lower())


def _from_keywords(text: str) -> str | None:
    if not text:
        return None
    if OTHER_PATTERN.search(text):
        return "other"
    if T1CE_EXPLICIT_PATTERN.search(text):
        return "T1CE"
    if FLAIR_PATTERN.search(text):
        return "FLAIR"
    if T1_PATTERN.search(text):
        return "T1"
    if T2_PATTERN.search(text):
        return "T2"
    return None


def _first_number(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _from_timing(metadata: dict[str, Any]) -> str | None:
    tr = _first_number(metadata.get("RepetitionTime"))
    te = _first_number(metadata.get("EchoTime")) or _first_number(metadata.get("EffectiveEchoTime"))
    ti = _first_number(metadata.get("InversionTime")) or _first_number(metadata.get("InversionTimes"))
    if ti is not None and te is not None:
        if ti >= FLAIR_MIN_TI and te >= LONG_TE:
            return "FLAIR"
        if ti < FLAIR_MIN_TI and te <= SHORT_TE:
            return "T1"
    if tr is not None and te is not None:
        if tr <= SHORT_TR and te <= SHORT_TE:
            return "T1"
        if tr >= LONG_TR and te >= LONG_TE:
            return "T2"
    return None


def description_texts(header) -> list[str]:
    """Return the free-text names that hint at the contrast, for in-memory use only."""
    names = ("SeriesDescription", "ProtocolName", "SequenceName", "PulseSequenceName", "ImageType")
    texts = []
    for name in names:
        value = header.get(name)
        if value is None:
            continue
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            texts.append(str(value))
        else:
            texts.append(" ".join(str(part) for part in value))
    return texts
