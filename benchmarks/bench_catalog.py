"""Listing and filtering 75,000 slices in the browser's queries (target: under 100 ms).

Builds a temporary SQLite database shaped like the MM-NeuroOnco slice pool (every 2D image
its own case and series; half with a mask and semantics; some reviews), then times
count + first page and the full id list for several filters.

    .venv/bin/python benchmarks/bench_catalog.py [--slices 75000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from db.models import Case, Dataset, Review, Semantics, Series, Slice, Mask  # noqa: E402
from db.session import open_database  # noqa: E402
from engine.catalog import SliceFilter, count_slices, list_slice_ids, list_slices  # noqa: E402

TYPES = ["glioma", "meningioma", "pituitary", "metastasis", "ependymoma", "schwannoma",
         "embryonal", "neuronal_tumor", "healthy", "tumor"]
MODALITIES = ["T1", "T1CE", "T2", "FLAIR", "unknown"]
SIZES = ["Small/Focal", "Medium", "Large/Extensive"]
LOCATIONS = ["Center of the Image", "Upper-Left Region", "Lower-Right Region", "Center-Left Region"]


def populate(db, n: int) -> None:
    rng = random.Random(0)
    with db.session(write=True) as session:
        session.execute(insert(Dataset), [{"id": 1, "name": "pool", "kind": "mm-neuroonco-2d"}])
        session.execute(insert(Case), [
            {"id": i, "dataset_id": 1, "pseudonym": f"case_{i:06d}", "tumour_type": rng.choice(TYPES)}
            for i in range(1, n + 1)])
        session.execute(insert(Series), [
            {"id": i, "case_id": i, "modality": rng.choice(MODALITIES), "kind": "image2d",
             "file_format": "png", "shape": [240, 240], "voxel_spacing": [1, 1],
             "source_path": f"/data/{i}.png", "content_sha256": f"{i:064d}"}
            for i in range(1, n + 1)])
        session.execute(insert(Slice), [
            {"id": i, "series_id": i, "index": 0, "image_path": f"x/{i:06d}.png", "has_mask": i % 2 == 0}
            for i in range(1, n + 1)])
        session.execute(insert(Mask), [
            {"id": i, "case_id": i, "kind": "binary-image", "file_format": "png",
             "source_path": f"/m/{i}.png", "content_sha256": f"{i:064d}", "shape": [240, 240],
             "label_names": {}} for i in range(2, n + 1, 2)])
        session.execute(insert(Semantics), [
            {"slice_id": i, "mask_id": i, "region": "whole", "size": rng.choice(SIZES),
             "shape": "Lobulated", "spread": "Solitary Lesion", "location": rng.choice(LOCATIONS)}
            for i in range(2, n + 1, 2)])
        session.execute(insert(Review), [
            {"target": "slice", "slice_id": i, "reviewer": "ana", "verdict": rng.choice(["agree", "flag"])}
            for i in range(1, n + 1, 7)])


def timed(function, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=75_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        start = time.perf_counter()
        populate(db, args.slices)
        print(f"populated {args.slices} slices in {time.perf_counter() - start:.1f} s")
        filters = {
            "none": SliceFilter(),
            "tumour type + modality": SliceFilter(tumour_types=["glioma"], modalities=["T1CE"]),
            "has mask + size": SliceFilter(has_mask=True, sizes=["Medium"]),
            "location": SliceFilter(locations=["Upper-Left Region"]),
            "review state": SliceFilter(review_state="flag"),
            "unreviewed": SliceFilter(review_state="unreviewed"),
            "free text": SliceFilter(text="01234"),
        }
        print(f"{'filter':<24} {'matches':>8} {'count+page ms':>14} {'all ids ms':>11}")
        for name, slice_filter in filters.items():
            with db.session() as session:
                matches = count_slices(session, slice_filter)
                page = timed(lambda: (count_slices(session, slice_filter),
                                      list_slices(session, slice_filter, limit=500)))
                every = timed(lambda: list_slice_ids(session, slice_filter))
            print(f"{name:<24} {matches:>8} {page:>14.1f} {every:>11.1f}")
        db.dispose()


if __name__ == "__main__":
    main()
