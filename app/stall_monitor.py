"""An event-loop stall monitor: how long the GUI thread goes without serving its event loop.

A zero-work timer is due every ``interval_ms``. When the GUI thread is busy (a query, a
file read, a long paint), the timer fires late, and the time since the previous firing is
the length of the stall plus at most one interval. Stalls are attributed to the phase named
by :meth:`StallMonitor.set_phase`, so a scripted scenario can tell which step blocked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer

DEFAULT_INTERVAL_MS = 10
DEFAULT_THRESHOLD_MS = 100.0


@dataclass(frozen=True)
class Stall:
    phase: str
    gap_ms: float


class StallMonitor(QObject):
    """Records the gaps between timer firings on the GUI thread.

    ``threshold_ms`` is the gap that counts as a stall. Gaps are in milliseconds and
    include up to one ``interval_ms`` of normal waiting.
    """

    def __init__(self, interval_ms: int = DEFAULT_INTERVAL_MS, threshold_ms: float = DEFAULT_THRESHOLD_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.threshold_ms = threshold_ms
        self.phase = ""
        self.gaps: list[float] = []
        self.phases: list[str] = []  # the phase of each gap
        self.stalls: list[Stall] = []
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._last = None

    def set_phase(self, phase: str) -> None:
        """Name the scenario step that the following gaps belong to."""
        self.phase = phase

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = (now - self._last) * 1000.0
            self.gaps.append(gap)
            self.phases.append(self.phase)
            if gap > self.threshold_ms:
                self.stalls.append(Stall(self.phase, gap))
        self._last = now

    @property
    def max_gap_ms(self) -> float:
        return max(self.gaps, default=0.0)

    def summary(self) -> dict:
        """Return the gap count, median, 99th percentile and maximum (ms) and the stalls."""
        gaps = np.asarray(self.gaps) if self.gaps else np.zeros(1)
        return {
            "samples": len(self.gaps),
            "median_ms": float(np.median(gaps)),
            "p99_ms": float(np.percentile(gaps, 99)),
            "max_ms": float(gaps.max()),
            "stalls": [(stall.phase, round(stall.gap_ms, 1)) for stall in self.stalls],
        }
