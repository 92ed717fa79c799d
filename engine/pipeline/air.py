"""Average Information Rate (AIR) of a set of silver labels.

Over the N lesion-positive labels (``lesion_found`` true), the fill rate of a sign is
100 x (labels whose sign is not None) / N. AIR is the mean fill rate over the six signs
(shape, margins, texture, enhancement, oedema, signal intensity), in percent. General terms
("Present", "Round/Oval") count as filled. With no lesion-positive label AIR is undefined
(None).
"""

from __future__ import annotations

from typing import Any, Iterable

from engine.pipeline.vocabulary import LESION_FOUND, SIGNS


def average_information_rate(labels: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    """Return ``{"air": percent or None, "positive": N, "fill_rates": {sign: percent}}``."""
    positive = [label for label in labels if label and label.get(LESION_FOUND) is True]
    count = len(positive)
    if count == 0:
        return {"air": None, "positive": 0, "fill_rates": {sign: None for sign in SIGNS}}
    rates = {sign: 100.0 * sum(label.get(sign) is not None for label in positive) / count
             for sign in SIGNS}
    return {"air": sum(rates.values()) / len(SIGNS), "positive": count, "fill_rates": rates}
