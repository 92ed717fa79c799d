"""Progress reporting shared by the CLI, background jobs and the GUI.

Long operations take a :class:`Progress` and call :meth:`Progress.advance` once per unit of
work. The reporter decides what to do with it: draw a terminal bar, write the job row, or
raise :class:`~engine.errors.Cancelled` when the user asked to stop. Work is cancellable
exactly at those calls, so an operation must call ``advance`` (or :meth:`Progress.check`)
at least once a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Counts units of work; subclasses report them somewhere.

    ``total`` may be None until it is known (:meth:`start`).
    """

    total: int | None = None
    done: int = 0
    message: str = ""
    started: float = field(default_factory=time.monotonic)

    def start(self, total: int | None, message: str = "") -> None:
        """Reset the count for a new phase of ``total`` units."""
        self.total = total
        self.done = 0
        self.message = message
        self.started = time.monotonic()
        self.report()

    def advance(self, units: int = 1, message: str | None = None) -> None:
        """Count ``units`` finished units; may raise Cancelled."""
        self.done += units
        if message is not None:
            self.message = message
        self.report()

    def log(self, line: str) -> None:
        """Record one line for the job log (no-op by default)."""

    def check(self) -> None:
        """Raise Cancelled if the user asked to stop (no-op by default)."""

    def report(self) -> None:
        """Publish the current state (no-op by default)."""

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the mean rate so far, or None before the first unit."""
        if not self.total or self.done <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.done * max(self.total - self.done, 0)


class NullProgress(Progress):
    """A progress sink that ignores everything; the default for library calls."""
