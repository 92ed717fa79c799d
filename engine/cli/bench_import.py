"""``neuroonco bench import|stats|list|set-data-root|delete``."""

from __future__ import annotations

import argparse
import os

from engine.bench import catalog
from engine.bench.images import set_data_root
from engine.bench.importer import ImportReport, import_benchmark
from engine.bench.stats import benchmark_stats
from engine.cli.common import database, print_json, terminal_progress


def register(actions) -> None:  # noqa: ANN001 - argparse subparsers
    importing = actions.add_parser(
        "import", help="import MM-NeuroOnco benchmark JSON (closed, optionally open)")
    importing.add_argument("--closed", required=True, metavar="FILE",
                           help="closed (multiple-choice) benchmark JSON")
    importing.add_argument("--open", metavar="FILE", help="open benchmark JSON of the same items")
    importing.add_argument("--data-root", metavar="DIR",
                           help="folder the items' image_path values are relative to")
    importing.add_argument("--name", help="benchmark name (default: the closed file's name "
                                          "without extension)")
    importing.add_argument("--skip-invalid", action="store_true",
                           help="import the valid items and report the ids of invalid ones")
    importing.add_argument("--job", action="store_true",
                           help="queue a background job instead and print its id")
    importing.add_argument("--json", action="store_true", help="print the import report as JSON")
    importing.set_defaults(handler=_import)

    stats = actions.add_parser("stats", help="print the counts of an imported benchmark")
    stats.add_argument("name", help="benchmark name, as listed by 'neuroonco bench list'")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=_stats)

    listing = actions.add_parser("list", help="list imported benchmarks")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    root = actions.add_parser("set-data-root",
                              help="set the image folder of a benchmark and check its images")
    root.add_argument("name", help="benchmark name, as listed by 'neuroonco bench list'")
    root.add_argument("directory", metavar="DIR",
                      help="folder that the items' image_path values are relative to")
    root.set_defaults(handler=_set_data_root)

    delete = actions.add_parser("delete", help="delete a benchmark with its questions and runs")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)


def _import(args: argparse.Namespace) -> int:
    if args.job:
        return _submit_import(args)
    with terminal_progress(args, "importing benchmark") as progress:
        report = import_benchmark(database(args), args.closed, open_path=args.open,
                                  data_root=args.data_root, name=args.name,
                                  skip_invalid=args.skip_invalid, progress=progress)
    if args.json:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.created and args.data_root:
        print(f"the data root was not changed; set it with 'neuroonco bench set-data-root "
              f"{report.name} {args.data_root}'")
    return 0


def _submit_import(args: argparse.Namespace) -> int:
    from engine.jobs import queue

    # Absolute paths, because the worker may run in another folder.
    params = {
        "closed": os.path.abspath(args.closed),
        "open": os.path.abspath(args.open) if args.open else None,
        "data_root": os.path.abspath(args.data_root) if args.data_root else None,
        "name": args.name,
        "skip_invalid": args.skip_invalid,
    }
    print(queue.submit(database(args), "bench.import", params))
    return 0


def _print_report(report: ImportReport) -> None:
    if not report.created:
        print(f"benchmark '{report.name}' already holds these files; nothing imported")
        return

    print(f"imported benchmark '{report.name}': {report.items} items, {report.questions} "
          f"questions ({report.traps} traps), {report.open_items} open items, "
          f"{report.open_questions} open questions")
    for role, labels in report.skipped.items():
        print(f"skipped {len(labels)} invalid {role} items: {', '.join(labels)}")

    if report.duplicates:
        print(f"{len(report.duplicates)} questions have options that repeat after normalising "
              "case, spaces, hyphens, underscores and slashes (kept as published):")
        for dup in report.duplicates:
            options = ", ".join(f"{letter} {text!r}" for letter, text in zip(dup.letters, dup.texts))
            gold = f"; the gold option {dup.gold_letter} is one of them" if dup.gold_repeated else ""
            print(f"  item {dup.item_id} vqa_pairs[{dup.q_index}] ({dup.question_type}): "
                  f"{options}{gold}")

    if report.offered_originals:
        print(f"{len(report.offered_originals)} trap questions still offer their original "
              "answer in another spelling, so their gold letter E is doubtful (kept as published):")
        for trap in report.offered_originals:
            print(f"  item {trap.item_id} vqa_pairs[{trap.q_index}] ({trap.question_type}): "
                  f"original {trap.original_answer!r}, option {trap.letter} {trap.option_text!r}")

    if report.images is None:
        print(f"images: none checked, all {report.items} items are marked image missing; set "
              f"the image folder with 'neuroonco bench set-data-root {report.name} DIR'")
    else:
        _print_presence(report.images)


def _print_presence(presence) -> None:  # noqa: ANN001 - an ImagePresence
    print(f"images under {presence.data_root}: {presence.present_count} present, "
          f"{presence.missing_count} missing")
    if presence.missing_examples:
        print(f"  missing, for example: {', '.join(presence.missing_examples)}")


def _stats(args: argparse.Namespace) -> int:
    stats = benchmark_stats(database(args), args.name)
    if args.json:
        print_json(stats)
        return 0
    for key, value in stats.items():
        if isinstance(value, dict):
            value = ", ".join(f"{name} {count}" for name, count in value.items()) or "-"
        print(f"{key:<28} {value}")
    return 0


def _list(args: argparse.Namespace) -> int:
    benchmarks = catalog.list_benchmarks(database(args))
    if args.json:
        print_json(benchmarks)
        return 0
    if not benchmarks:
        print("no benchmarks; import one with 'neuroonco bench import --closed FILE'")
        return 0
    print(f"{'name':<40} {'items':>6} {'closed':>7} {'open':>6} {'missing':>8}  data root")
    for row in benchmarks:
        print(f"{row['name']:<40} {row['items']:>6} {row['questions']:>7} "
              f"{row['open_questions']:>6} {row['images_missing']:>8}  {row['data_root'] or '-'}")
    return 0


def _set_data_root(args: argparse.Namespace) -> int:
    with terminal_progress(args, "checking images") as progress:
        presence = set_data_root(database(args), args.name, args.directory, progress)
    _print_presence(presence)
    images = _images_dataset(database(args), args.name)
    if images is not None:
        print(f"present images are imported into dataset '{images}'")
    return 0


def _images_dataset(db, name: str) -> str | None:  # noqa: ANN001 - a Database
    """Return the name of the dataset that contains benchmark ``name``'s imported images."""
    from sqlalchemy import select

    from db.models import Benchmark, Dataset

    with db.session() as session:
        return session.scalar(select(Dataset.name).join(Benchmark, Benchmark.images_dataset_id == Dataset.id)
                              .where(Benchmark.name == name))


def _delete(args: argparse.Namespace) -> int:
    counts = catalog.delete_benchmark(database(args), args.name)
    print(f"deleted benchmark '{args.name}': {counts['items']} items, {counts['questions']} "
          f"questions, {counts['runs']} runs")
    return 0
