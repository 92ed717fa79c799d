"""``neuroonco export instructions|benchmark``: files from a pipeline run."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.common import database, print_json, terminal_progress


def register(subparsers) -> None:  # noqa: ANN001
    export = subparsers.add_parser("export", help="write instruction data or a benchmark",
                                   description="Export a pipeline run's instruction samples "
                                               "(JSONL) or its benchmark split (MM-NeuroOnco "
                                               "v1.0 JSON) with the images.")
    actions = export.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    instructions = actions.add_parser("instructions",
                                      help="JSONL for LLaMA-Factory and ms-swift")
    instructions.add_argument("--run", required=True, help="pipeline run name")
    instructions.add_argument("--out", required=True, metavar="DIR", help="output folder")
    instructions.add_argument("--kinds", default="closed,closed-cot,open",
                              help="comma-separated kinds: closed, closed-cot, open (default all)")
    instructions.add_argument("--split", default="train", choices=("train", "benchmark"),
                              help="split to export (default train)")
    instructions.add_argument("--json", action="store_true", help="print the counts as JSON")
    instructions.set_defaults(handler=_instructions)

    benchmark = actions.add_parser("benchmark", help="MM-NeuroOnco v1.0 closed and open JSON")
    benchmark.add_argument("--run", required=True, help="pipeline run name")
    benchmark.add_argument("--out", required=True, metavar="DIR", help="output folder")
    benchmark.add_argument("--trap-share", type=float, metavar="SHARE",
                           help="share of five-option questions made trap items (default: "
                                "the run's, 0.2 unless set)")
    benchmark.add_argument("--seed", type=int, help="seed of traps and letters (default: the "
                                                    "run's)")
    benchmark.add_argument("--json", action="store_true", help="print the stats as JSON")
    benchmark.set_defaults(handler=_benchmark)


def _instructions(args: argparse.Namespace) -> int:
    from engine.pipeline.export_instructions import export_instructions
    from engine.pipeline.runs import get_run
    from engine.pipeline.stages import run_samples

    db = database(args)
    run = get_run(db, args.run)
    kinds = tuple(kind.strip() for kind in args.kinds.split(",") if kind.strip())
    with terminal_progress(args, "exporting instructions") as progress:
        result = export_instructions(db, run, run_samples(db, run), Path(args.out), kinds,
                                     args.split, progress)
    if args.json:
        print_json(result)
        return 0
    for kind, count in result["files"].items():
        print(f"{kind}: {count} samples")
    print(f"images: {result['images']}; wrote {args.out}/dataset_info.json")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from engine.pipeline.export_benchmark import export_benchmark
    from engine.pipeline.runs import get_run
    from engine.pipeline.stages import run_samples

    db = database(args)
    run = get_run(db, args.run)
    with terminal_progress(args, "exporting benchmark") as progress:
        stats = export_benchmark(db, run, run_samples(db, run), Path(args.out), args.trap_share,
                                 args.seed, progress)
    if args.json:
        print_json(stats)
        return 0
    share = stats["trap_share"]
    print(f"{stats['items']} items, {stats['questions']} closed questions "
          f"({stats['traps']} traps, {100 * share:.1f}% of five-option questions)"
          if share is not None else f"{stats['items']} items, {stats['questions']} questions")
    print(f"{stats['open_items']} open items, {stats['open_questions']} open questions")
    print(f"import with: neuroonco bench import --closed {args.out}/benchmark_closed.json"
          + (f" --open {args.out}/benchmark_open.json" if stats["open_items"] else "")
          + f" --data-root {args.out}")
    return 0
