"""Speed of template instruction generation for 10,000 slices.

Builds a temporary SQLite database with N 2D slices in six tumour classes. One in six is
healthy without mask, the others have a drawn mask whose semantics are computed with
``engine.semantics``, and every second tumour slice has a fused silver label, so every
question type is generated. Then, per round and on a fresh pipeline run, it times:

- loading the run's samples from the database;
- the generate stage as the CLI runs it: questions, leak checks, trap and letter lay-out,
  messages, and the inserts of all InstructionSample rows (wall time, and this process's
  CPU time, which a loaded machine inflates less).

Target: the generate stage for 10,000 slices in under 30 s.

    python benchmarks/bench_pipeline_generate.py [--slices 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.models import Case, Dataset, Mask, Semantics, Series, SilverLabel, Slice  # noqa: E402
from db.session import open_database  # noqa: E402
from engine.pipeline.runs import open_run  # noqa: E402
from engine.pipeline.stage_generate import run_generate  # noqa: E402
from engine.pipeline.stages import run_samples  # noqa: E402
from engine.progress import NullProgress  # noqa: E402
from engine.semantics.rules import mask_semantics  # noqa: E402

CLASSES = ("glioma", "meningioma", "pituitary", "metastasis", "tumor", "healthy")
SIDE = 240


def draw(rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), np.uint8)
    centre = (int(rng.integers(30, SIDE - 30)), int(rng.integers(30, SIDE - 30)))
    axes = (int(rng.integers(3, 40)), int(rng.integers(3, 40)))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    for _ in range(int(rng.integers(0, 3))):
        cv2.circle(mask, (int(rng.integers(5, SIDE - 5)), int(rng.integers(5, SIDE - 5))),
                   int(rng.integers(1, 5)), 255, -1)
    return mask


def build(db, count: int) -> None:  # noqa: ANN001 - a Database
    rng = np.random.default_rng(11)
    with db.session(write=True) as session:
        dataset = Dataset(name="bench", kind="mm-neuroonco-2d", data_root="/nonexistent")
        session.add(dataset)
        session.flush()
        cases = [{"dataset_id": dataset.id, "pseudonym": f"c{n}",
                  "tumour_type": CLASSES[n % len(CLASSES)], "source": "10"} for n in range(count)]
        session.execute(insert(Case), cases)
        case_ids = session.scalars(select(Case.id).where(Case.dataset_id == dataset.id)
                                   .order_by(Case.id)).all()
        session.execute(insert(Series), [
            {"case_id": case_id, "modality": ("T1", "T1CE", "T2", "FLAIR")[n % 4],
             "kind": "image2d", "file_format": "png", "shape": [SIDE, SIDE],
             "voxel_spacing": [1.0, 1.0], "affine": None, "source_path": f"/x/{n}.png",
             "content_sha256": f"{n:064d}"} for n, case_id in enumerate(case_ids)])
        series_ids = session.scalars(select(Series.id).order_by(Series.id)).all()
        session.execute(insert(Slice), [
            {"series_id": series_id, "index": 0, "has_mask": CLASSES[n % 6] != "healthy",
             "image_path": f"{CLASSES[n % 6]}/10_t1_mask/{n}.png"}
            for n, series_id in enumerate(series_ids)])
        slice_ids = session.scalars(select(Slice.id).order_by(Slice.id)).all()
        session.execute(insert(Mask), [
            {"case_id": case_ids[n], "kind": "binary-image", "file_format": "png",
             "source_path": f"/x/{n}_mask.png", "content_sha256": f"{n:064d}",
             "shape": [SIDE, SIDE], "label_names": {}}
            for n in range(count) if CLASSES[n % 6] != "healthy"])
        mask_ids = dict(session.execute(select(Mask.case_id, Mask.id)).all())
        rows, labels = [], []
        for n in range(count):
            if CLASSES[n % 6] == "healthy":
                continue
            semantics = mask_semantics(draw(rng))
            rows.append({"slice_id": slice_ids[n], "mask_id": mask_ids[case_ids[n]],
                         "region": "whole", "size": semantics.size, "shape": semantics.shape,
                         "spread": semantics.spread, "location": semantics.location,
                         "area_px": semantics.area_px, "area_ratio": semantics.area_ratio,
                         "circularity": semantics.circularity, "elongation": semantics.elongation,
                         "components": semantics.components,
                         "dominant_fraction": semantics.dominant_fraction,
                         "centroid_x": semantics.centroid[0], "centroid_y": semantics.centroid[1]})
        session.execute(insert(Semantics), rows)


def add_fused_labels(db, run_id: int, samples) -> None:  # noqa: ANN001
    fields = {"lesion_found": True, "modality": "T1CE", "location": "Center", "shape": "Oval",
              "margins": "Ill-defined", "texture": "Heterogeneous", "enhancement": "Ring",
              "oedema": None, "signal_intensity": None}
    rows = [{"pipeline_run_id": run_id, "slice_id": sample.slice_id, "stage": "fused",
             "status": "kept", "fields": fields, "notes": []}
            for number, sample in enumerate(samples)
            if sample.tumour_class != "healthy" and number % 2 == 0]
    with db.session(write=True) as session:
        session.execute(insert(SilverLabel), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        started = time.perf_counter()
        build(db, args.slices)
        print(f"python {platform.python_version()}, built {args.slices} slices in "
              f"{time.perf_counter() - started:.1f} s (not timed below)")

        load_times, generate_times, cpu_times = [], [], []
        for round_number in range(args.rounds):
            run = open_run(db, f"bench-{round_number}", "bench")
            started = time.perf_counter()
            samples = run_samples(db, run)
            load_times.append(time.perf_counter() - started)
            add_fused_labels(db, run.id, samples)

            started, cpu_started = time.perf_counter(), time.process_time()
            result = run_generate(db, run, samples, NullProgress())
            generate_times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
            print(f"round {round_number + 1}: load {load_times[-1]:.2f} s, generate "
                  f"{generate_times[-1]:.2f} s (CPU {cpu_times[-1]:.2f} s), rows "
                  f"{result['by_kind']}, traps "
                  f"{result['traps']} of {result['five_option']}")
        db.dispose()

    print(f"load samples: median {statistics.median(load_times):.2f} s")
    print(f"generate stage: median {statistics.median(generate_times):.2f} s, "
          f"min {min(generate_times):.2f} s, max {max(generate_times):.2f} s (target < 30 s); "
          f"CPU time of this process: median {statistics.median(cpu_times):.2f} s")


if __name__ == "__main__":
    main()
