"""``neuroonco pipeline run|air|list|dump``: the instruction pipeline on a dataset."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from engine.cli.common import database, output_file, print_json, terminal_progress


def register(subparsers) -> None:  # noqa: ANN001
    pipeline = subparsers.add_parser(
        "pipeline", help="silver labels and instruction data from a dataset",
        description="Run the instruction pipeline (coarse descriptions, silver labels from two "
                    "models, fusion, audit, instruction generation, splits and export).")
    actions = pipeline.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    run = actions.add_parser("run", help="create or resume a pipeline run and run stages")
    run.add_argument("--dataset", help="dataset to build the run on (needed for a new run)")
    run.add_argument("--name", help="pipeline run name (default: <dataset>-pipeline)")
    run.add_argument("--stages", default="all",
                     help="comma-separated stages: description, extract-a, extract-b (or "
                          "extract), fuse, audit, generate, split, export, or all (default)")
    run.add_argument("--model-a", help="model of silver-label run A (a registered model or "
                                       "replay:FILE.jsonl)")
    run.add_argument("--model-b", help="model of silver-label run B")
    run.add_argument("--auditor", help="model of the audit")
    run.add_argument("--paraphraser", help="model that rewords question stems (optional)")
    run.add_argument("--seed", type=int, help="seed of stems, traps, letters and splits "
                                              "(default 0)")
    run.add_argument("--trap-share", type=float, metavar="SHARE",
                     help="share of five-option questions made trap items (default 0.2)")
    run.add_argument("--benchmark-share", type=float, metavar="SHARE",
                     help="share of cases in the benchmark split (default 0.2)")
    run.add_argument("--selection", choices=("largest", "lesion"),
                     help="volume slices: the largest lesion slice (default) or every "
                          "--slice-step-th lesion slice")
    run.add_argument("--slice-step", type=int, metavar="K",
                     help="with --selection lesion, take every K-th lesion slice (default 1)")
    run.add_argument("--out", metavar="DIR", help="output folder of the export stage")
    run.add_argument("--job", action="store_true",
                     help="queue a background job instead and print its id")
    run.add_argument("--json", action="store_true", help="print the stage results as JSON")
    run.set_defaults(handler=_run)

    air = actions.add_parser("air", help="print AIR per stage and review-based quality")
    air.add_argument("run", metavar="RUN")
    air.add_argument("--json", action="store_true", help="print JSON")
    air.set_defaults(handler=_air)

    listing = actions.add_parser("list", help="list pipeline runs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    dump = actions.add_parser("dump", help="write one stage's stored results as JSON")
    dump.add_argument("run", metavar="RUN")
    dump.add_argument("stage", metavar="STAGE",
                      help="description, run_a, run_b, fused, audited, instructions or stats")
    dump.add_argument("--out", type=output_file, metavar="FILE",
                      help="output file (default: standard output)")
    dump.set_defaults(handler=_dump)


def _run(args: argparse.Namespace) -> int:
    from engine.errors import InvalidInputError
    from engine.pipeline.runs import open_run
    from engine.pipeline.stages import StageOptions, parse_stages, run_stages

    if not args.name and not args.dataset:
        raise InvalidInputError("pass --dataset (and optionally --name) for a new run, or "
                                "--name of an existing run")
    name = args.name or f"{args.dataset}-pipeline"
    stages = parse_stages(args.stages)
    options = {"seed": args.seed, "trap_share": args.trap_share,
               "benchmark_share": args.benchmark_share, "selection": args.selection,
               "slice_step": args.slice_step,
               "models": {"run_a": args.model_a, "run_b": args.model_b, "audit": args.auditor,
                          "paraphrase": args.paraphraser}}
    db = database(args)
    run = open_run(db, name, args.dataset, options)
    out = Path(os.path.abspath(args.out)) if args.out else None
    if "export" in stages and out is None:
        raise InvalidInputError("the export stage needs an output folder; pass --out DIR")

    if args.job:
        from engine.jobs import queue

        params = {"run": run.name, "stages": stages, "out": str(out) if out else None}
        print(queue.submit(db, "pipeline.run", params))
        return 0
    with terminal_progress(args, f"pipeline {run.name}") as progress:
        results = run_stages(db, run.name, stages, progress, StageOptions(out=out))
    if args.json:
        print_json({"run": run.name, "stages": results})
        return 0
    from engine.pipeline.overview import stage_summary

    print(f"pipeline run '{run.name}' on dataset '{run.dataset}'")
    for stage, result in results.items():
        print(f"  {stage}: {stage_summary(stage, result)}")
    return 0


def _air(args: argparse.Namespace) -> int:
    from engine.pipeline.overview import percent, pipeline_overview

    overview = pipeline_overview(database(args), args.run)
    air, quality = overview.air, overview.reviews
    if args.json:
        print_json({"run": overview.name, "air": air, "reviews": quality})
        return 0
    print(f"pipeline run '{overview.name}'")
    if not air:
        print("  no silver labels yet: run the extract, fuse and audit stages")
    for stage, value in air.items():
        rates = ", ".join(f"{sign} {percent(rate)}" for sign, rate in value["fill_rates"].items())
        print(f"  AIR {stage:<8} {percent(value['air']):>7} over {value['positive']} "
              f"lesion-positive labels ({rates})")
    for stage, by_field in quality.items():
        overall = by_field["all"]
        print(f"  reviews of {stage}: {overall['reviewed']} fields, precision "
              f"{percent(overall['precision'])}, omission {percent(overall['omission_rate'])}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from db.models import Dataset, PipelineRun

    with database(args).session() as session:
        rows = session.execute(select(PipelineRun, Dataset.name)
                               .join(Dataset, Dataset.id == PipelineRun.dataset_id)
                               .order_by(PipelineRun.id)).all()
        runs = [{"name": run.name, "dataset": dataset, "created_at": run.created_at,
                 "stages": [key for key in (run.stats or {}) if not key.endswith("_progress")],
                 "config": run.config} for run, dataset in rows]
    if args.json:
        print_json(runs)
        return 0
    if not runs:
        print("no pipeline runs; start one with 'neuroonco pipeline run --dataset NAME'")
    for run in runs:
        print(f"{run['name']:<30} {run['dataset']:<24} stages: {', '.join(run['stages']) or '-'}")
    return 0


def _dump(args: argparse.Namespace) -> int:
    from engine.pipeline.runs import get_run
    from engine.pipeline.stage_dump import dump_stage
    from engine.pipeline.stages import run_samples

    db = database(args)
    run = get_run(db, args.run)
    value = dump_stage(db, run, run_samples(db, run), args.stage)
    if args.out:
        from engine.pipeline.files import write_text_atomic

        write_text_atomic(Path(args.out), json.dumps(value, indent=1, default=str) + "\n")
        print(f"wrote {args.out}")
    else:
        print_json(value)
    return 0
