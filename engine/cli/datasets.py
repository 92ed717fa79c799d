"""``neuroonco datasets list|show|delete|semantics``."""

from __future__ import annotations

import argparse

from engine.cli.common import database, print_json, terminal_progress


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser("datasets", help="list, show or delete datasets; compute semantics")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="list datasets with their counts")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="show one dataset")
    show.add_argument("name")
    show.set_defaults(handler=_show)
    delete = actions.add_parser("delete", help="delete a dataset and everything under it")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)
    semantics = actions.add_parser(
        "semantics", help="compute mask semantics and coarse descriptions of a dataset")
    semantics.add_argument("name")
    semantics.add_argument("--recompute", action="store_true",
                           help="recompute masks that already have semantics")
    semantics.add_argument("--job", action="store_true", help="queue a job instead")
    semantics.add_argument("--json", action="store_true", help="print JSON")
    semantics.set_defaults(handler=_semantics)


def _list(args: argparse.Namespace) -> int:
    from engine.datasets import list_datasets

    rows = list_datasets(database(args))
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        synthetic = "  (synthetic)" if row["synthetic"] else ""
        print(f"{row['name']}: {_counted(row)}{synthetic}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from engine.datasets import get_dataset

    print_json(get_dataset(database(args), args.name))
    return 0


def _delete(args: argparse.Namespace) -> int:
    from engine.datasets import delete_dataset

    counts = delete_dataset(database(args), args.name)
    print(f"deleted dataset '{args.name}' ({_counted(counts)})")
    return 0


def _semantics(args: argparse.Namespace) -> int:
    from engine.semantics.store import compute_dataset, dataset_id_by_name

    db = database(args)
    dataset_id = dataset_id_by_name(db, args.name)
    if args.job:
        from engine.jobs import submit

        job_id = submit(db, "semantics.compute", {"dataset": args.name, "recompute": args.recompute})
        if args.json:
            print_json({"job": job_id})
        else:
            print(f"queued semantics job {job_id}")
        return 0
    with terminal_progress(args, "computing mask semantics") as progress:
        summary = compute_dataset(db, dataset_id, progress, recompute=args.recompute)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(f"{summary.masks_done} masks computed, {summary.masks_skipped} already done, "
              f"{summary.semantics_rows} semantics rows, {summary.descriptions} descriptions")
    return 0


def _counted(counts: dict) -> str:
    """Format the case, series, slice and mask counts, with singular nouns for 1."""
    cases = "case" if counts["cases"] == 1 else "cases"
    slices = "slice" if counts["slices"] == 1 else "slices"
    masks = "mask" if counts["masks"] == 1 else "masks"
    return (f"{counts['cases']} {cases}, {counts['series']} series, {counts['slices']} {slices}, "
            f"{counts['masks']} {masks}")
