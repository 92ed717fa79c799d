"""Speed of the mask-semantics engine on 240x240 masks, on one core.

Times ``engine.semantics.rules.mask_semantics`` against a plain OpenCV loop of the same rules
(full-image label comparison and contour tracing, as the published MM-NeuroOnco script does
it) on the same synthetic masks, in the same process. Both results are checked to agree
before timing. Prints both rates in masks per second and the ratio of the engine's time to
the plain loop's time.

Targets: at least 2,000 masks/s, and a time ratio of at most 1.2.

    python benchmarks/bench_semantics.py [--masks 2000] [--rounds 7] [--cpu 0]
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy and OpenCV load their thread pools.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.semantics.rules import (location_label, mask_semantics, shape_label,  # noqa: E402
                                    size_label, spread_label)

SIDE = 240


def draw_masks(count: int, seed: int = 7) -> list[np.ndarray]:
    """Draw ``count`` masks: ellipses, ellipses with satellites, stars, scattered blobs, empty."""
    rng = np.random.default_rng(seed)
    masks = []
    for index in range(count):
        mask = np.zeros((SIDE, SIDE), np.uint8)
        kind = index % 5
        if kind in (0, 1):
            _ellipse(mask, rng)
        if kind == 1:
            for _ in range(int(rng.integers(1, 4))):
                _ellipse(mask, rng, max_axis=6)
        if kind == 2:
            _star(mask, rng)
        if kind == 3:
            for _ in range(int(rng.integers(2, 6))):
                _ellipse(mask, rng, max_axis=20)
        if kind == 4 and index % 25 != 4:  # one mask in 25 stays empty
            _ellipse(mask, rng, max_axis=4)
        # Grey values on both sides of the > 127 threshold, as in resampled JPEG masks.
        noise = rng.integers(0, 128, mask.shape, dtype=np.uint8)
        masks.append(np.where(mask > 0, np.uint8(128) + noise, noise // 2))
    return masks


def _ellipse(mask: np.ndarray, rng: np.random.Generator, max_axis: int = 60) -> None:
    center = (int(rng.integers(20, SIDE - 20)), int(rng.integers(20, SIDE - 20)))
    axes = (int(rng.integers(1, max_axis + 1)), int(rng.integers(1, max_axis + 1)))
    cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)


def _star(mask: np.ndarray, rng: np.random.Generator) -> None:
    center = rng.integers(60, SIDE - 60, 2)
    spikes = int(rng.integers(5, 12))
    angles = np.linspace(0, 2 * math.pi, 2 * spikes, endpoint=False)
    radii = np.where(np.arange(2 * spikes) % 2 == 0, rng.uniform(30, 55), rng.uniform(6, 15))
    points = np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], 1)
    cv2.fillPoly(mask, [points.astype(np.int32)], 255)


def plain_semantics(mask: np.ndarray) -> dict | None:
    """Compute the same rules as one straightforward OpenCV loop body, as a baseline."""
    _, binary = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count < 2:
        return None
    height, width = binary.shape
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = int(np.argmax(areas)) + 1
    largest_area = int(stats[largest, cv2.CC_STAT_AREA])
    total = int(areas.sum())

    component = (labels == largest).astype(np.uint8) * 255
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = contours[0]
    perimeter = cv2.arcLength(contour, True)
    circularity = 4 * math.pi * largest_area / perimeter**2 if perimeter > 0 else 0.0
    elongation = 1.0
    if len(contour) >= 5:
        cv2.setRNGSeed(1)
        first = cv2.fitEllipse(contour)
        cv2.setRNGSeed(2)
        second = cv2.fitEllipse(contour)
        major, minor = max(first[1]), min(first[1])
        if first == second and minor > 0:
            elongation = major / minor

    moments = cv2.moments(binary, binaryImage=True)
    x, y = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    return {
        "size": size_label(total / (height * width)),
        "shape": shape_label(circularity, elongation),
        "spread": spread_label(count - 1, largest_area / total),
        "location": location_label(x, y, width, height),
        "circularity": circularity,
        "elongation": elongation,
        "centroid": (x, y),
    }


def check_agreement(masks: list[np.ndarray]) -> None:
    for index, mask in enumerate(masks):
        engine, plain = mask_semantics(mask), plain_semantics(mask)
        if engine is None or plain is None:
            assert engine is None, f"mask {index}: empty for the plain loop only"
            assert plain is None, f"mask {index}: empty for the engine only"
            continue
        got = {key: getattr(engine, key) for key in plain}
        assert got == plain, f"mask {index}: engine {got} != plain {plain}"


def time_once(function, masks: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for mask in masks:
        function(mask)
    return time.perf_counter() - start


def pin_to_one_core(cpu: int | None) -> int:
    cv2.setNumThreads(1)
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[0] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=2000, help="number of masks per round")
    parser.add_argument("--rounds", type=int, default=7,
                        help="timed rounds per implementation (the fastest counts)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="CPU to pin to (default: the first one allowed)")
    args = parser.parse_args()

    cpu = pin_to_one_core(args.cpu)
    masks = draw_masks(args.masks)
    check_agreement(masks)

    engine_times, plain_times = [], []
    for _ in range(args.rounds):  # interleaved, so both see the same machine load
        plain_times.append(time_once(plain_semantics, masks))
        engine_times.append(time_once(mask_semantics, masks))
    engine_rate = args.masks / min(engine_times)
    plain_rate = args.masks / min(plain_times)
    ratio = min(engine_times) / min(plain_times)

    print(f"python {platform.python_version()}, opencv {cv2.__version__}, numpy {np.__version__}, "
          f"pinned to CPU {cpu}, cv2 threads {cv2.getNumThreads()}")
    print(f"{args.masks} masks of {SIDE}x{SIDE}, best of {args.rounds} rounds")
    print(f"engine (mask_semantics): {engine_rate:8.0f} masks/s")
    print(f"plain OpenCV loop:       {plain_rate:8.0f} masks/s")
    print(f"time ratio engine/plain: {ratio:8.3f}  (target <= 1.2; rate target >= 2000 masks/s)")


if __name__ == "__main__":
    main()
