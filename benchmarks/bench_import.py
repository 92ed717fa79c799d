"""Import of 10,000 2D slices with masks (target: under 60 s).

Writes an MM-NeuroOnco data root of small gray PNG images into a temporary folder, each
with a ``<stem>_mask.png`` beside it (the source-10 layout). Then it times ``import_paths``
into a new SQLite database, and a second import of the same tree (everything present).

    .venv/bin/python benchmarks/bench_import.py [--images 10000] [--size 128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from db.session import open_database  # noqa: E402
from engine.io.importer import import_paths  # noqa: E402

CLASSES = ["glioma", "meningioma", "pituitary", "metastasis", "neuronal_tumor"]
TARGET_S = 60.0


def write_tree(root: Path, count: int, size: int) -> None:
    """Write ``count`` image/mask pairs: a smooth random gray image and a drawn disc mask."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (size, size), dtype=np.uint8), (0, 0), 3)
    for number in range(count):
        folder = root / CLASSES[number % len(CLASSES)] / "10_t1_t2_mask"
        folder.mkdir(parents=True, exist_ok=True)
        image = np.roll(base, number, axis=1)
        image[0, :4] = np.frombuffer(number.to_bytes(4, "little"), dtype=np.uint8)  # unique content
        mask = np.zeros((size, size), dtype=np.uint8)
        centre = (int(rng.integers(size // 4, 3 * size // 4)), int(rng.integers(size // 4, 3 * size // 4)))
        cv2.circle(mask, centre, int(rng.integers(3, size // 5)), 255, thickness=-1)
        cv2.imwrite(str(folder / f"T1_{number:05d}.png"), image)
        cv2.imwrite(str(folder / f"T1_{number:05d}_mask.png"), mask)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="image/mask pairs (default 10000)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "data"
        start = time.perf_counter()
        write_tree(root, args.images, args.size)
        print(f"wrote {args.images} {args.size}x{args.size} PNG images with masks in "
              f"{time.perf_counter() - start:.1f} s")

        db = open_database(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        start = time.perf_counter()
        summary = import_paths(db, [root])
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = import_paths(db, [root])
        second = time.perf_counter() - start
        db.dispose()

    assert summary.added["slices"] == args.images
    assert summary.added["masks"] == args.images
    assert not again.added_anything
    print(f"first import: {first:.1f} s ({args.images / first:.0f} slices/s); "
          f"{summary.added}")
    print(f"second import (all present): {second:.1f} s")
    verdict = "meets" if first < TARGET_S else "MISSES"
    print(f"{verdict} the target of {TARGET_S:.0f} s for {args.images} slices")
    return 0 if first < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
