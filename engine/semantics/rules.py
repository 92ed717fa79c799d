"""The MM-NeuroOnco mask-to-semantics rules for one 2D mask.

A mask is binarised at > 127 (bool masks: True is foreground) and split into 8-connected
components with OpenCV. Four labels follow from the published thresholds:

- size from the foreground area over the image area: < 0.01 "Small/Focal", < 0.05
  "Medium", else "Large/Extensive";
- spread from the component count and the largest component's share of the foreground:
  one component "Solitary Lesion", share >= 0.7 "Dominant Core with Satellites", else
  "Scattered/Multifocal";
- shape from the largest component: circularity 4*pi*A/P**2 (A its pixel count, P the closed
  perimeter of its external contour polygon) and elongation (major over minor axis of the
  ellipse fitted to that contour): circularity < 0.5 "Irregular/Spiculated", >= 0.8 with
  elongation <= 1.5 "Round/Oval", else "Lobulated";
- location from the centroid of the whole mask on a 3x3 grid of the image.

Degenerate cases (single pixels, thin lines, degenerate ellipse fits) are described in
docs/semantics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import InvalidInputError

# Stored with every semantics row, so rows computed under later rule changes stay distinguishable.
RULES_VERSION = "mmno-1.0"

BINARY_THRESHOLD = 127  # foreground is > 127
SIZE_SMALL_BELOW = 0.01
SIZE_MEDIUM_BELOW = 0.05
DOMINANT_FRACTION_MIN = 0.7
CIRCULARITY_IRREGULAR_BELOW = 0.5
CIRCULARITY_ROUND_MIN = 0.8
ELONGATION_ROUND_MAX = 1.5
ELLIPSE_MIN_POINTS = 5  # cv2.fitEllipse needs at least five contour points
_FIT_SEEDS = (0x5EED1, 0x5EED2)  # any two different seeds detect a perturbed ellipse fit

SMALL, MEDIUM, LARGE = "Small/Focal", "Medium", "Large/Extensive"
SOLITARY = "Solitary Lesion"
DOMINANT = "Dominant Core with Satellites"
SCATTERED = "Scattered/Multifocal"
IRREGULAR, ROUND, LOBULATED = "Irregular/Spiculated", "Round/Oval", "Lobulated"
CENTER_OF_IMAGE = "Center of the Image"

SIZE_LABELS = (SMALL, MEDIUM, LARGE)
SPREAD_LABELS = (SOLITARY, DOMINANT, SCATTERED)
SHAPE_LABELS = (IRREGULAR, ROUND, LOBULATED)
LOCATION_LABELS = tuple(
    CENTER_OF_IMAGE if (row, col) == ("Center", "Center") else f"{row}-{col} Region"
    for row in ("Upper", "Center", "Lower")
    for col in ("Left", "Center", "Right")
)

JSON_KEYS = ("size", "shape", "spread", "location", "area_ratio", "circularity", "elongation",
             "components", "dominant_fraction", "centroid")


@dataclass(frozen=True, slots=True)
class MaskSemantics:
    """Semantics of one non-empty 2D mask.

    ``area_px`` is the foreground pixel count and ``area_ratio`` that count over the image
    area. ``components`` is the number of 8-connected components and ``dominant_fraction``
    the largest component's share of the foreground (1.0 for one component).
    ``circularity`` and ``elongation`` describe the largest component. ``centroid`` is the
    (x, y) centroid of the whole mask in pixels: x along columns, y along rows, with the
    origin at the centre of the top-left pixel.
    """

    size: str
    shape: str
    spread: str
    location: str
    area_px: int
    area_ratio: float
    circularity: float
    elongation: float
    components: int
    dominant_fraction: float
    centroid: tuple[float, float]

    def to_json(self) -> dict:
        """Return the JSON object of the ``neuroonco semantics --json`` contract."""
        return {
            "size": self.size,
            "shape": self.shape,
            "spread": self.spread,
            "location": self.location,
            "area_ratio": self.area_ratio,
            "circularity": self.circularity,
            "elongation": self.elongation,
            "components": self.components,
            "dominant_fraction": self.dominant_fraction,
            "centroid": [self.centroid[0], self.centroid[1]],
        }

    def labels(self) -> dict[str, str]:
        """Return the four labels keyed ``size``, ``shape``, ``spread`` and ``location``."""
        return {"size": self.size, "shape": self.shape, "spread": self.spread,
                "location": self.location}


def size_label(area_ratio: float) -> str:
    if area_ratio < SIZE_SMALL_BELOW:
        return SMALL
    if area_ratio < SIZE_MEDIUM_BELOW:
        return MEDIUM
    return LARGE


def spread_label(components: int, dominant_fraction: float) -> str:
    if components == 1:
        return SOLITARY
    if dominant_fraction >= DOMINANT_FRACTION_MIN:
        return DOMINANT
    return SCATTERED


def shape_label(circularity: float, elongation: float) -> str:
    if circularity < CIRCULARITY_IRREGULAR_BELOW:
        return IRREGULAR
    if circularity >= CIRCULARITY_ROUND_MIN and elongation <= ELONGATION_ROUND_MAX:
        return ROUND
    return LOBULATED


def location_label(x: float, y: float, width: int, height: int) -> str:
    """Return the 3x3-grid label of centroid (``x``, ``y``) in a ``width`` x ``height`` image."""
    column = _third(x, width, ("Left", "Center", "Right"))
    row = _third(y, height, ("Upper", "Center", "Lower"))
    if row == "Center" and column == "Center":
        return CENTER_OF_IMAGE
    return f"{row}-{column} Region"


def _third(value: float, extent: int, names: tuple[str, str, str]) -> str:
    if value < extent / 3:
        return names[0]
    if value < 2 * extent / 3:
        return names[1]
    return names[2]


def binarise(mask: np.ndarray) -> np.ndarray:
    """Return ``mask`` as a C-contiguous uint8 array of 0 and 255 (uint8: > 127; bool: True).

    Raises InvalidInputError for anything but a non-empty 2D uint8 or bool array.
    """
    if mask.ndim != 2 or mask.size == 0:
        raise InvalidInputError(f"a mask must be a non-empty 2D array, got shape {mask.shape}")
    if mask.dtype == np.bool_:
        return np.ascontiguousarray(mask).view(np.uint8) * np.uint8(255)
    if mask.dtype != np.uint8:
        raise InvalidInputError(
            f"a mask must be uint8 (foreground > 127) or bool, got {mask.dtype}; "
            "threshold label maps explicitly, e.g. labels > 0"
        )
    _, binary = cv2.threshold(np.ascontiguousarray(mask), BINARY_THRESHOLD, 255, cv2.THRESH_BINARY)
    return binary


def mask_semantics(mask: np.ndarray) -> MaskSemantics | None:
    """Compute the semantics of a 2D mask, or None when it has no foreground pixel.

    ``mask`` is uint8 (foreground > 127) or bool, rows by columns as displayed.
    Raises InvalidInputError for other shapes and dtypes.
    """
    binary = binarise(mask)
    height, width = binary.shape
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        binary, connectivity=8, ltype=_label_type(height, width))
    if count < 2:
        return None

    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = int(np.argmax(areas)) + 1  # the first in raster order on a tie
    largest_area = int(stats[largest, cv2.CC_STAT_AREA])
    total_area = int(areas.sum())
    components = count - 1

    component = binary if components == 1 else labels
    circularity, elongation = _contour_metrics(component, stats[largest], largest, largest_area)

    centroid = _centroid(stats[1:], centroids[1:], total_area)

    area_ratio = total_area / (height * width)
    dominant_fraction = largest_area / total_area
    return MaskSemantics(
        size=size_label(area_ratio),
        shape=shape_label(circularity, elongation),
        spread=spread_label(components, dominant_fraction),
        location=location_label(centroid[0], centroid[1], width, height),
        area_px=total_area,
        area_ratio=area_ratio,
        circularity=circularity,
        elongation=elongation,
        components=components,
        dominant_fraction=dominant_fraction,
        centroid=centroid,
    )


def _label_type(height: int, width: int) -> int:
    """Return CV_16U when every possible label fits in 16 bits, else CV_32S.

    An h x w image contains at most ceil(h/2) * ceil(w/2) 8-connected components. OpenCV 5.1
    labels a 240x240 mask about 2.5 times faster into 16-bit labels, with identical labels.
    """
    max_components = ((height + 1) // 2) * ((width + 1) // 2)
    return cv2.CV_16U if max_components < np.iinfo(np.uint16).max else cv2.CV_32S


def _centroid(stats: np.ndarray, centroids: np.ndarray, total_area: int) -> tuple[float, float]:
    """Return the centroid of all components together, equal to the image-moments centroid.

    Each component centroid times its area is a sum of pixel coordinates, so rounding it
    recovers that integer sum exactly, and the quotients below are the m10/m00 and m01/m00
    that cv2.moments gives, at a tenth of its cost.
    """
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    sum_x, sum_y = np.rint(centroids * areas[:, None]).sum(axis=0)
    return float(sum_x) / total_area, float(sum_y) / total_area


def _contour_metrics(component: np.ndarray, box: np.ndarray, label: int,
                     area: int) -> tuple[float, float]:
    """Return (circularity, elongation) of one component.

    ``component`` is either the binary mask (one component) or the label image; only its
    bounding box ``box`` is traced, with the offset restoring full-image coordinates so the
    contour is the same point list that tracing the whole image gives.
    """
    x, y, w, h = (int(v) for v in box[:4])
    window = component[y:y + h, x:x + w]
    if component.dtype != np.uint8:
        window = (window == label).view(np.uint8)
    contours, _ = cv2.findContours(window, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE,
                                   offset=(x, y))
    # One 8-connected component has exactly one external contour; [0] follows the published
    # rules should OpenCV ever return more.
    contour = contours[0]

    perimeter = cv2.arcLength(contour, True)
    circularity = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else 0.0
    return circularity, _elongation(contour)


def _elongation(contour: np.ndarray) -> float:
    """Return major over minor axis of the ellipse fitted to ``contour``, or 1.0 without a fit.

    There is no fit below five points, when OpenCV raises, when the minor axis is not
    positive, or when the point set is degenerate (collinear, or on a conic through its own
    centroid, as thin lines and crosses are). For degenerate sets cv2.fitEllipse (seen in
    OpenCV 5.1) adds noise drawn from its per-thread random generator, so its answer changes
    from call to call. Fitting twice under two fixed seeds detects this: only the perturbed
    path gives two different answers.
    """
    if len(contour) < ELLIPSE_MIN_POINTS:
        return 1.0
    try:
        cv2.setRNGSeed(_FIT_SEEDS[0])
        _, axes, _ = cv2.fitEllipse(contour)
        cv2.setRNGSeed(_FIT_SEEDS[1])
        _, check, _ = cv2.fitEllipse(contour)
    except cv2.error:
        return 1.0
    if axes != check:
        return 1.0
    major, minor = max(axes), min(axes)
    if not minor > 0 or not math.isfinite(major):
        return 1.0
    return major / minor
