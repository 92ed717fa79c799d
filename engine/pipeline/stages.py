"""The pipeline's stages in order, and running a list of them on one run.

Stages: description, extract-a, extract-b, fuse, audit, generate, split, export. The alias
"extract" stands for extract-a and extract-b, "all" for every stage. Each stage's result
(counts, AIR where it applies, model provenance) is stored under its name in the run's
stats. A stage that calls a model loads it once, stops when the model is not registered or
cannot be loaded, and records a failed request on its sample. The model-free stages
(description, fuse, generate, split, export) need none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.session import Database
from engine.errors import InvalidInputError
from engine.pipeline.export_benchmark import export_benchmark
from engine.pipeline.export_instructions import export_instructions
from engine.pipeline.labels import RUN_A, RUN_B
from engine.pipeline.model_calls import ModelCall
from engine.pipeline.runs import RunInfo, get_run, update_stats
from engine.pipeline.samples import Sample, load_samples
from engine.pipeline.stage_audit import run_audit
from engine.pipeline.stage_describe import run_describe
from engine.pipeline.stage_extract import run_extract
from engine.pipeline.stage_fuse import run_fuse
from engine.pipeline.stage_generate import run_generate
from engine.pipeline.stage_split import run_split
from engine.progress import NullProgress, Progress

log = logging.getLogger(__name__)

STAGES = ("description", "extract-a", "extract-b", "fuse", "audit", "generate", "split",
          "export")
ALIASES = {"extract": ("extract-a", "extract-b"), "all": STAGES}
INSTRUCTIONS_FOLDER, BENCHMARK_FOLDER = "instructions", "benchmark"


@dataclass
class StageOptions:
    """Inputs of some stages besides the run: the export folder and model calls.

    ``callers`` maps a model role (run_a, run_b, audit, paraphrase) to a ModelCall that
    replaces the run's configured model, for callers that hold a loaded model. Stages
    leave these callers open.
    """

    out: Path | None = None
    callers: dict[str, ModelCall] = field(default_factory=dict)


def parse_stages(text: str | list[str]) -> list[str]:
    """Return the stages named in ``text`` (comma-separated) in pipeline order.

    Raises InvalidInputError naming an unknown stage.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    requested: set[str] = set()
    for name in (part.strip() for part in names):
        if not name:
            continue
        if name in ALIASES:
            requested.update(ALIASES[name])
        elif name in STAGES:
            requested.add(name)
        else:
            raise InvalidInputError(f"unknown stage {name!r}; use {', '.join(STAGES)}, "
                                    "'extract' or 'all'")
    if not requested:
        raise InvalidInputError(f"no stage given; use {', '.join(STAGES)}, 'extract' or 'all'")
    return [stage for stage in STAGES if stage in requested]


def run_samples(db: Database, run: RunInfo) -> list[Sample]:
    """Return the run's samples, selected by its configuration."""
    with db.session() as session:
        return load_samples(session, run.dataset, run.config["selection"],
                            int(run.config["slice_step"]))


def run_stage(db: Database, run: RunInfo, stage: str, samples: list[Sample],
              progress: Progress, options: StageOptions) -> dict[str, Any]:
    """Run one stage and store its result in the run's stats; return the result."""
    if stage == "description":
        result = run_describe(db, run, samples, progress)
    elif stage in ("extract-a", "extract-b"):
        role = RUN_A if stage == "extract-a" else RUN_B
        result = run_extract(db, run, samples, role, progress, options.callers.get(role))
    elif stage == "fuse":
        result = run_fuse(db, run, samples, progress)
    elif stage == "audit":
        result = run_audit(db, run, samples, progress, options.callers.get("audit"))
    elif stage == "generate":
        result = run_generate(db, run, samples, progress, options.callers.get("paraphrase"))
    elif stage == "split":
        result = run_split(db, run, samples, progress)
    elif stage == "export":
        result = _export(db, run, samples, progress, options)
    else:
        raise InvalidInputError(f"unknown stage {stage!r}; use {', '.join(STAGES)}")
    update_stats(db, run.id, stage, result)
    log.info("pipeline run %s: stage %s finished", run.name, stage)
    return result


def run_stages(db: Database, run_name: str, stages: list[str], progress: Progress | None = None,
               options: StageOptions | None = None) -> dict[str, Any]:
    """Run ``stages`` on run ``run_name`` in pipeline order; return each stage's result."""
    progress = progress or NullProgress()
    options = options or StageOptions()
    if "export" in stages and options.out is None:
        raise InvalidInputError("the export stage needs an output folder; pass --out DIR")
    run = get_run(db, run_name)
    samples = run_samples(db, run)
    if not samples:
        raise InvalidInputError(f"dataset '{run.dataset}' has no slices; import images first")
    results = {}
    for stage in parse_stages(stages):
        progress.log(f"stage {stage}")
        results[stage] = run_stage(db, run, stage, samples, progress, options)
    return results


def _export(db: Database, run: RunInfo, samples: list[Sample], progress: Progress,
            options: StageOptions) -> dict[str, Any]:
    if options.out is None:
        raise InvalidInputError("the export stage needs an output folder; pass --out DIR")
    instructions = export_instructions(db, run, samples, options.out / INSTRUCTIONS_FOLDER,
                                       progress=progress)
    benchmark = export_benchmark(db, run, samples, options.out / BENCHMARK_FOLDER,
                                 progress=progress)
    return {"folder": str(options.out), "instructions": instructions, "benchmark": benchmark}
