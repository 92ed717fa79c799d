"""Runs :func:`engine.viewer.case_loading.load_case` on a worker thread for the GUI.

The worker thread only reads files and builds arrays; results and progress reach the GUI
thread through a timer that polls a future, so no Qt object is touched off the GUI thread.
A newer request supersedes the one in flight: the old one is cancelled between files and
its result is dropped.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, QTimer, Signal

from app.gc_policy import collect_on_gui_thread
from engine.viewer.case_files import CaseFiles
from engine.viewer.case_loading import LoadProgress, load_case

log = logging.getLogger(__name__)

POLL_MS = 15


class CaseLoader(QObject):
    """Loads one case at a time. Signals: ``progressed(done, total, message)``,
    ``loaded(LoadedCase)``, ``failed(exception)`` and ``cancelled()``."""

    progressed = Signal(int, int, str)
    loaded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-loader")
        self._future: Future | None = None
        self._progress: LoadProgress | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    @property
    def busy(self) -> bool:
        return self._future is not None

    def load(self, files: CaseFiles, requested_series_id: int | None) -> None:
        """Start loading ``files``; a load in progress is cancelled and its result dropped."""
        self._drop_current()
        self._progress = LoadProgress()
        self._future = self._executor.submit(load_case, files, requested_series_id, self._progress)
        self._timer.start()

    def cancel(self) -> None:
        """Cancel the load in progress (at its next file) and emit ``cancelled``."""
        if self._future is not None:
            self._drop_current()
            self.cancelled.emit()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the load in flight has finished and its signals are out (tests, scripts)."""
        future = self._future
        if future is None:
            return
        future.exception(timeout)
        self._on_timer_timeout()

    def shutdown(self) -> None:
        self._drop_current()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _drop_current(self) -> None:
        if self._progress is not None:
            self._progress.cancel.set()
        self._future = None
        self._progress = None
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        future, progress = self._future, self._progress
        if future is None:
            self._timer.stop()
            return
        self.progressed.emit(progress.done, progress.total, progress.message)
        if not future.done():
            return
        self._future = None
        self._progress = None
        self._timer.stop()
        error = future.exception()
        if error is None:
            self.loaded.emit(future.result())
        elif progress.cancel.is_set():
            log.info("case load cancelled")
        else:
            log.warning("case load failed: %s", error)
            self.failed.emit(error)
