"""Window/level (display levels) of an image series, and the presets the viewer offers.

Levels are computed once per series from its intensity statistics and never from the slice
on screen, so a slice keeps its brightness while the user scrolls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The narrowest window, as a fraction of the series' intensity range (or 1e-6 absolute for
# a constant image), so a zero-width window never divides by zero in the display path.
MIN_WIDTH_FRACTION = 1e-6
MIN_WIDTH_ABSOLUTE = 1e-6


@dataclass(frozen=True)
class WindowLevel:
    """A display window: intensities ``center - width/2`` to ``center + width/2`` map to black..white."""

    center: float
    width: float

    @property
    def levels(self) -> tuple[float, float]:
        """The (low, high) intensity pair for ``ImageItem.setImage(levels=...)``."""
        half = self.width / 2.0
        return (self.center - half, self.center + half)

    @classmethod
    def from_range(cls, low: float, high: float) -> WindowLevel:
        return cls(center=(low + high) / 2.0, width=high - low)


@dataclass(frozen=True)
class WindowPreset:
    """A named window offered to the user: ``kind`` is ``auto``, ``full`` or ``header``."""

    kind: str
    name: str
    window: WindowLevel


def min_width(stats: dict) -> float:
    """Return the narrowest allowed window width for a series with intensity ``stats``."""
    span = float(stats.get("max", 0.0)) - float(stats.get("min", 0.0))
    return max(span * MIN_WIDTH_FRACTION, MIN_WIDTH_ABSOLUTE)


def guard(window: WindowLevel, stats: dict) -> WindowLevel:
    """Return ``window`` with a finite centre and a width of at least :func:`min_width`."""
    center = window.center if math.isfinite(window.center) else 0.0
    width = window.width if math.isfinite(window.width) else 0.0
    return WindowLevel(center, max(width, min_width(stats)))


def presets(stats: dict, header_windows: list[dict] | None = None) -> list[WindowPreset]:
    """Return the window presets of a series.

    ``stats`` contains the finite ``min``, ``max`` and 1st/99th percentiles ``p1``/``p99`` of the
    whole series (:meth:`engine.io.volume.Volume.intensity_stats`). ``header_windows`` are the
    DICOM header windows as ``[{"center": c, "width": w}, ...]``; entries without a positive
    finite width are skipped.
    """
    result = [
        WindowPreset("auto", "Auto (1-99 %)", guard(WindowLevel.from_range(stats["p1"], stats["p99"]), stats)),
        WindowPreset("full", "Full range", guard(WindowLevel.from_range(stats["min"], stats["max"]), stats)),
    ]
    for number, entry in enumerate(header_windows or [], start=1):
        try:
            center, width = float(entry["center"]), float(entry["width"])
        except (KeyError, TypeError, ValueError):
            continue
        if not (math.isfinite(center) and math.isfinite(width) and width > 0):
            continue
        name = str(entry.get("name") or f"Header window {number}")
        result.append(WindowPreset("header", name, WindowLevel(center, width)))
    return result


def dragged(window: WindowLevel, dx: float, dy: float, stats: dict, span_pixels: float = 500.0) -> WindowLevel:
    """Return ``window`` after a window/level drag of (``dx``, ``dy``) logical pixels.

    Dragging right widens the window and dragging down raises the level (a darker image).
    A movement of ``span_pixels`` changes the width or level by the full intensity range.
    """
    span = max(float(stats["max"]) - float(stats["min"]), min_width(stats))
    per_pixel = span / span_pixels
    moved = WindowLevel(window.center + dy * per_pixel, window.width + dx * per_pixel)
    return guard(moved, stats)
