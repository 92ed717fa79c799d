"""``neuroonco demo``: create the demo study."""

from __future__ import annotations

import argparse

from engine.cli.common import database, print_json, terminal_progress


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser(
        "demo", help="create the demo study (a real T1 volume with a synthetic lesion)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from engine.demo import DEMO_DATASET, create_demo

    with terminal_progress(args, "creating the demo study") as progress:
        result = create_demo(database(args), progress)
    if args.json:
        print_json({"dataset": DEMO_DATASET, "dataset_id": result.dataset_id,
                    "created": result.created, "benchmark": result.benchmark})
    elif result.created:
        print(f"created dataset '{DEMO_DATASET}' and benchmark '{result.benchmark}'")
        print(f"try: neuroonco bench run --benchmark '{result.benchmark}' "
              "--model baseline:semantics-oracle")
    else:
        print(f"dataset '{DEMO_DATASET}' already exists")
    return 0
