"""A pipeline run at a glance: its stages' stored results, AIR after each label stage, and the
precision and omission of its silver labels against clinician reviews.

``neuroonco pipeline run|air`` print these and the pipeline window shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from db.models import Dataset, Model, PipelineRun
from db.session import Database
from engine.pipeline.quality import review_quality
from engine.pipeline.runs import get_run, read_stats
from engine.pipeline.stages import STAGES

# The stats section (a stage) that contains the AIR of each silver-label stage.
AIR_SECTIONS = (("run_a", "extract-a"), ("run_b", "extract-b"), ("fused", "fuse"),
                ("audited", "audit"))


@dataclass(frozen=True)
class StageResult:
    """One stage of a run: whether its result is stored, a one-line summary, and AIR."""

    stage: str
    done: bool
    summary: str
    air: float | None


@dataclass(frozen=True)
class PipelineOverview:
    name: str
    dataset: str
    config: dict[str, Any]
    stages: tuple[StageResult, ...]
    air: dict[str, dict[str, Any]]
    reviews: dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class PipelineRunRow:
    name: str
    dataset: str
    stages: tuple[str, ...]
    config: dict[str, Any]


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def stage_summary(stage: str, result: dict[str, Any]) -> str:
    """Return one line that describes a stage's stored result."""
    if stage == "description":
        return f"{result['samples']} slices described ({result['with_morphology']} with mask)"
    if stage in ("extract-a", "extract-b", "audit"):
        return f"{result['statuses']}, AIR {percent(result['air']['air'])}"
    if stage == "fuse":
        return (f"kept {result['kept']}, healthy {result['healthy']}, dropped "
                f"{result['dropped']}, conflicting {result['conflicting']}, AIR "
                f"{percent(result['air']['air'])}")
    if stage == "generate":
        return (f"{result['by_kind']} from {result['samples_with_questions']} slices, "
                f"{result['traps']} traps of {result['five_option']} five-option questions")
    if stage == "split":
        return f"cases {result['cases']}, slices {result['slices']}"
    if stage == "export":
        instructions, benchmark = result["instructions"], result["benchmark"]
        files = ", ".join(f"{kind} {count}" for kind, count in instructions["files"].items())
        return (f"{instructions['split']} instructions ({files}) in {instructions['folder']}; "
                f"benchmark of {benchmark['items']} items, {benchmark['questions']} closed and "
                f"{benchmark['open_questions']} open questions in {result['folder']}/benchmark")
    return json.dumps(result, default=str)


def air_by_stage(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the stored AIR result per silver-label stage (run_a, run_b, fused, audited)."""
    return {stage: stats[section]["air"] for stage, section in AIR_SECTIONS
            if isinstance(stats.get(section), dict) and "air" in stats[section]}


def pipeline_overview(db: Database, name: str) -> PipelineOverview:
    """Return run ``name``'s stages, AIR and review quality; raise NotFoundError if unknown."""
    run = get_run(db, name)
    stats = read_stats(db, run.id)
    with db.session() as session:
        reviews = review_quality(session, run.id)
    results = []
    for stage in STAGES:
        result = stats.get(stage)
        if not isinstance(result, dict):
            results.append(StageResult(stage, False, "not run", None))
            continue
        air = result.get("air", {}).get("air") if isinstance(result.get("air"), dict) else None
        results.append(StageResult(stage, True, stage_summary(stage, result), air))
    return PipelineOverview(run.name, run.dataset, run.config, tuple(results),
                            air_by_stage(stats), reviews)


def list_pipeline_runs(db: Database) -> list[PipelineRunRow]:
    """Return every pipeline run, oldest first, with the stages it has results for."""
    with db.session() as session:
        rows = session.execute(select(PipelineRun, Dataset.name)
                               .join(Dataset, Dataset.id == PipelineRun.dataset_id)
                               .order_by(PipelineRun.id)).all()
        return [PipelineRunRow(run.name, dataset,
                               tuple(key for key in (run.stats or {})
                                     if not key.endswith("_progress")),
                               dict(run.config or {}))
                for run, dataset in rows]


@dataclass(frozen=True)
class PipelineChoices:
    """Choices of the pipeline dialog: datasets, registered models and existing runs."""

    datasets: tuple[str, ...]
    models: tuple[str, ...]
    runs: tuple[PipelineRunRow, ...]


def pipeline_choices(db: Database) -> PipelineChoices:
    with db.session() as session:
        datasets = tuple(session.scalars(select(Dataset.name).order_by(Dataset.name)))
        models = tuple(session.scalars(select(Model.name).order_by(Model.name)))
    return PipelineChoices(datasets, models, tuple(list_pipeline_runs(db)))
