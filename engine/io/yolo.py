"""YOLO segmentation labels: polygons in a ``.txt`` file, rasterised at the image size.

Each line is ``class x1 y1 x2 y2 ...`` with at least three points, coordinates normalised
to 0..1 of the image width (x) and height (y). As in the MM-NeuroOnco preparation scripts,
points are scaled to pixels, clipped to the image and the polygons filled with 255.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.errors import InvalidInputError

# Class ids of the MM-NeuroOnco YOLO source (public source 19).
YOLO_CLASSES = {0: "glioma", 1: "meningioma", 2: "pituitary"}


@dataclass(frozen=True)
class Polygon:
    class_id: int
    points: np.ndarray  # (N, 2) normalised x, y


def parse_yolo(text: str, path: Path) -> list[Polygon]:
    """Parse a YOLO segmentation label file; raise InvalidInputError naming the file and line."""
    polygons = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        polygons.append(_parse_line(tokens, path, number))
    return polygons


def _parse_line(tokens: list[str], path: Path, number: int) -> Polygon:
    where = f"YOLO label file '{path}' line {number}"
    try:
        class_id = int(tokens[0])
        values = np.array([float(token) for token in tokens[1:]], dtype=np.float64)
    except ValueError as error:
        raise InvalidInputError(
            f"{where} is not 'class x1 y1 x2 y2 ...' ({error}); fix or remove the line"
        ) from error
    if class_id < 0 or not np.isfinite(values).all():
        raise InvalidInputError(f"{where} has a negative class or a non-finite coordinate; fix the line")
    if len(values) % 2 or len(values) < 6:
        hint = " (a detection box, not a polygon)" if len(values) == 4 else ""
        raise InvalidInputError(
            f"{where} has {len(values)} coordinates{hint}; a segmentation polygon needs a class "
            "and at least 3 x y pairs"
        )
    return Polygon(class_id, values.reshape(-1, 2))


def read_yolo(path: Path, content: bytes | None = None) -> list[Polygon]:
    """Read and parse the YOLO label file at ``path`` (or its already-read ``content``)."""
    content = Path(path).read_bytes() if content is None else content
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"YOLO label file '{path}' is not UTF-8 text; re-export it") from error
    return parse_yolo(text, path)


def rasterise(polygons: list[Polygon], shape: tuple[int, int]) -> np.ndarray:
    """Fill ``polygons`` into a uint8 ``shape`` (rows, columns) mask: 255 inside, 0 outside."""
    height, width = shape
    mask = np.zeros((height, width), dtype=np.uint8)
    for polygon in polygons:
        pixels = polygon.points * np.array([width, height], dtype=np.float64)
        pixels[:, 0] = np.clip(pixels[:, 0], 0, width - 1)
        pixels[:, 1] = np.clip(pixels[:, 1], 0, height - 1)
        # NOTE: truncation to whole pixels follows the published rasteriser as far as its
        # description goes (scale, clip, fill); rounding would move edges by up to a pixel.
        cv2.fillPoly(mask, [pixels.astype(np.int32)], 255)
    return mask


def class_names(polygons: list[Polygon]) -> list[str]:
    """Return the distinct class names of ``polygons`` in order of first appearance."""
    names: list[str] = []
    for polygon in polygons:
        name = YOLO_CLASSES.get(polygon.class_id, f"class {polygon.class_id}")
        if name not in names:
            names.append(name)
    return names
