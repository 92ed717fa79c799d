"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from db.session import Database, open_database
from engine.progress import NullProgress, Progress

_databases: dict[str | None, Database] = {}


def database(args: argparse.Namespace) -> Database:
    """Open (and upgrade) the database selected by ``--db`` or the environment, once."""
    url = getattr(args, "db", None)
    if url not in _databases:
        _databases[url] = open_database(url)
    return _databases[url]


def output_file(text: str) -> Path:
    """argparse type of a file the command writes: its folder must already exist.

    Checked while the arguments are parsed, so a wrong folder stops the command before any
    work, and the folder is never created on the user's behalf.
    """
    path = Path(text).expanduser()
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(
            f"folder '{folder}' does not exist; create it or choose another path")
    return path


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


class RichProgress(Progress):
    """A terminal progress bar (rich) on standard error."""

    def __init__(self, bar, task_id) -> None:  # noqa: ANN001 - rich objects
        super().__init__()
        self._bar = bar
        self._task = task_id

    def report(self) -> None:
        self._bar.update(self._task, total=self.total, completed=self.done,
                         description=self.message or "working")

    def log(self, line: str) -> None:
        self._bar.console.log(line)


@contextmanager
def terminal_progress(args: argparse.Namespace, description: str, *,
                      unit: str = "items") -> Iterator[Progress]:
    """Yield a Progress drawn as a bar on standard error, silent with ``--quiet`` or when not a terminal.

    ``unit`` "bytes" shows sizes (kB, MB, GB) and the transfer rate instead of a count.
    """
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        yield NullProgress()
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress as Bar,
                               TextColumn, TimeRemainingColumn, TransferSpeedColumn)

    counts = [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
    with Bar(TextColumn("{task.description}"), BarColumn(), *counts, TimeRemainingColumn(),
             console=Console(stderr=True), transient=True) as bar:
        yield RichProgress(bar, bar.add_task(description, total=None))
