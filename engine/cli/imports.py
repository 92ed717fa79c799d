"""``neuroonco import PATH... [--dataset NAME] [--data-root DIR] [--volume N] [--mask FILE] [--job]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.common import database, print_json, terminal_progress


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser(
        "import", help="import NIfTI, DICOM, PNG/JPEG images and their masks",
        description="Import images and masks. File types are recognised from their content; "
                    "folders are walked (BraTS case folders, MM-NeuroOnco data roots, folders "
                    "of NIfTI files). Importing the same files again adds nothing.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to import")
    parser.add_argument("--dataset", metavar="NAME",
                        help="dataset to import into (default: the data root's or first path's name)")
    parser.add_argument("--data-root", metavar="DIR",
                        help="root of the MM-NeuroOnco layout <class>/<NN>_<modalities>/...; "
                             "image paths are stored relative to it (default: found from the "
                             "folder names)")
    parser.add_argument("--volume", type=_volume_index, default=0, metavar="N",
                        help="volume of 4D NIfTI files to import, from 0 (default 0)")
    parser.add_argument("--mask", action="append", default=[], metavar="FILE",
                        help="a mask (NIfTI label map, PNG/JPEG mask, YOLO .txt) that lies on "
                             "every image of this import; may be repeated")
    parser.add_argument("--no-semantics", action="store_true",
                        help="do not compute mask semantics and coarse descriptions after the "
                             "import (compute them later with 'neuroonco datasets semantics')")
    parser.add_argument("--job", action="store_true",
                        help="queue an import job for 'neuroonco worker' and print its id")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=_import)


def _volume_index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"volume index must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"volume index must be 0 or more, not {value}")
    return value


def _absolute(path: str) -> str:
    # Job parameters must not depend on the worker's working folder.
    return str(Path(path).expanduser().absolute())


def _import(args: argparse.Namespace) -> int:
    db = database(args)
    if args.job:
        return _submit_job(args, db)

    from engine.io.importer import import_paths

    from engine.semantics.store import compute_dataset, dataset_id_by_name

    with terminal_progress(args, "importing") as progress:
        summary = import_paths(db, args.paths, dataset=args.dataset, data_root=args.data_root,
                               volume_index=args.volume, masks=args.mask, progress=progress)
    result = summary.to_dict()
    lines = summary.lines()
    if not args.no_semantics:
        with terminal_progress(args, "computing mask semantics") as progress:
            semantics = compute_dataset(db, dataset_id_by_name(db, summary.dataset), progress)
        result["semantics"] = semantics.to_dict()
        lines.append(f"semantics: {semantics.masks_done} masks computed, "
                     f"{semantics.masks_skipped} already done")
    if args.json:
        print_json(result)
    else:
        print("\n".join(lines))
    return 0


def _submit_job(args: argparse.Namespace, db) -> int:  # noqa: ANN001
    from engine.jobs import submit

    params = {
        "paths": [_absolute(path) for path in args.paths],
        "dataset": args.dataset,
        "data_root": _absolute(args.data_root) if args.data_root else None,
        "volume": args.volume,
        "masks": [_absolute(path) for path in args.mask],
        "semantics": not args.no_semantics,
    }
    job_id = submit(db, "import", params)
    if args.json:
        print_json({"job": job_id})
    else:
        print(f"queued import job {job_id}; run 'neuroonco worker' to process it and "
              f"'neuroonco jobs log {job_id}' to see its summary")
    return 0
