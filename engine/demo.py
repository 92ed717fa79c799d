"""The demo study: a real Colin27 T1 volume with a synthetic lesion label map.

Created by ``neuroonco demo`` and on the application's first launch, so a fresh
installation has something real to open without gated data. The lesion is synthetic and
marked so (``Mask.is_synthetic``, ``Dataset.is_synthetic`` and the dataset description);
the case's tumour type is the generic "tumor" class, because the lesion has no histology.

The demo also gets a small benchmark in the MM-NeuroOnco v1.0 schema, generated from the
mask semantics by the instruction pipeline without any model (every third lesion slice,
rendered to PNG with its mask under ``<data dir>/demo-benchmark``), so a benchmark session
such as ``baseline:semantics-oracle`` runs on a fresh installation. Its items are linked to
the volume slices they were rendered from, so the viewer shows their questions on the
demo volume; models read the rendered PNGs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from db.models import Case, Dataset, Mask
from db.session import Database
from engine.progress import NullProgress, Progress
from resources import RESOURCES_DIR

log = logging.getLogger(__name__)

DEMO_DATASET = "Demo: Colin27 T1 with synthetic lesion"
DEMO_DIR = RESOURCES_DIR / "demo"
DEMO_T1 = DEMO_DIR / "colin27_t1.nii.gz"
DEMO_MASK = DEMO_DIR / "synthetic_lesion_seg.nii.gz"
DEMO_DESCRIPTION = (
    "Real T1-weighted brain MRI (Colin27 template, BSD-3-Clause, via Debian's mricron-data) "
    "with a SYNTHETIC lesion label map (1 necrotic core, 2 oedema, 4 enhancing tumour). The "
    "lesion is not a finding: the image shows healthy tissue under it."
)
DEMO_TUMOUR_TYPE = "tumor"
DEMO_BENCHMARK = "Demo benchmark"
DEMO_PIPELINE_RUN = "demo-pipeline"
DEMO_SLICE_STEP = 3


@dataclass
class DemoResult:
    dataset_id: int
    created: bool
    benchmark: str | None = None


def demo_dataset_id(db: Database) -> int | None:
    with db.session() as session:
        return session.scalar(select(Dataset.id).where(Dataset.name == DEMO_DATASET))


def create_demo(db: Database, progress: Progress | None = None) -> DemoResult:
    """Import the demo study and compute its semantics, unless it already exists."""
    from engine.io.importer import import_paths
    from engine.semantics.store import compute_dataset

    progress = progress or NullProgress()
    existing = demo_dataset_id(db)
    if existing is not None:
        return DemoResult(existing, created=False, benchmark=_demo_benchmark_name(db))
    import_paths(db, [DEMO_T1], dataset=DEMO_DATASET, masks=[DEMO_MASK], progress=progress)
    with db.session(write=True) as session:
        dataset = session.scalar(select(Dataset).where(Dataset.name == DEMO_DATASET))
        dataset.description = DEMO_DESCRIPTION
        dataset.is_synthetic = True
        case_ids = select(Case.id).where(Case.dataset_id == dataset.id)
        session.execute(update(Case).where(Case.id.in_(case_ids))
                        .values(tumour_type=DEMO_TUMOUR_TYPE, pseudonym="colin27"))
        session.execute(update(Mask).where(Mask.case_id.in_(case_ids)).values(is_synthetic=True))
        dataset_id = dataset.id
    compute_dataset(db, dataset_id, progress)
    create_demo_benchmark(db, progress)
    log.info("created the demo study as dataset %d", dataset_id)
    return DemoResult(dataset_id, created=True, benchmark=DEMO_BENCHMARK)


def _demo_benchmark_name(db: Database) -> str | None:
    from db.models import Benchmark

    with db.session() as session:
        return session.scalar(select(Benchmark.name).where(Benchmark.name == DEMO_BENCHMARK))


def create_demo_benchmark(db: Database, progress: Progress | None = None) -> str:
    """Generate, export and import the demo benchmark; return its name.

    Runs the model-free pipeline stages (description, generate, split with every case in
    the benchmark split) on the demo dataset, exports the benchmark with its images under
    the data folder, and imports it with that folder as data root, which links its items
    to the exported slices.
    """
    from db.session import data_dir
    from engine.bench.importer import import_benchmark
    from engine.pipeline.export_benchmark import export_benchmark
    from engine.pipeline.runs import open_run
    from engine.pipeline.stages import StageOptions, run_samples, run_stages

    progress = progress or NullProgress()
    options = {"benchmark_share": 1.0, "selection": "lesion", "slice_step": DEMO_SLICE_STEP}
    run = open_run(db, DEMO_PIPELINE_RUN, DEMO_DATASET, options)
    run_stages(db, run.name, ["description", "generate", "split"], progress, StageOptions())
    folder = data_dir() / "demo-benchmark"
    samples = run_samples(db, run)
    export_benchmark(db, run, samples, folder, progress=progress)
    import_benchmark(db, folder / "benchmark_closed.json", folder / "benchmark_open.json",
                     data_root=folder, name=DEMO_BENCHMARK, progress=progress,
                     import_images=False)
    _link_to_volume_slices(db, {sample.sample_id: sample.slice_id for sample in samples})
    return DEMO_BENCHMARK


def _link_to_volume_slices(db: Database, slice_by_image_path: dict[str, int]) -> None:
    """Link each demo benchmark item to the volume slice its image was rendered from."""
    from db.models import Benchmark, BenchmarkItem

    with db.session(write=True) as session:
        benchmark_id = select(Benchmark.id).where(Benchmark.name == DEMO_BENCHMARK)
        for item in session.scalars(
                select(BenchmarkItem).where(BenchmarkItem.benchmark_id.in_(benchmark_id))):
            item.slice_id = slice_by_image_path.get(item.image_path)
