"""``neuroonco gui``: open the desktop application."""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser("gui", help="open the desktop application")
    parser.add_argument("--demo", action="store_true",
                        help="create the demo study if needed and open it")
    parser.add_argument("--dataset", metavar="NAME", help="open this dataset")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="write a PNG of the main window once the opened case is on screen, "
                             "then quit (exit status 1 if that fails)")
    parser.set_defaults(handler=_gui)


def _gui(args: argparse.Namespace) -> int:
    # The GUI runs as its own module (app.main) so the engine never imports Qt.
    command = [sys.executable, "-m", "app.main"]
    if args.db:
        command += ["--db", args.db]
    if args.demo:
        command.append("--demo")
    if args.dataset:
        command += ["--dataset", args.dataset]
    if args.screenshot:
        command += ["--screenshot", args.screenshot]
    if args.debug:
        command.append("--debug")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return 0  # not reached
