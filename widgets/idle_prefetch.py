"""Runs the slice prefetch queue in the GUI thread's idle time."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, QTimer

from engine.display.slice_cache import PrefetchQueue, default_prefetch_queue

TICK_SECONDS = 0.003  # work per event-loop pass, so input and paint events wait at most this long


class IdlePrefetch(QObject):
    """Drains a :class:`PrefetchQueue` a few milliseconds per event-loop pass.

    A zero-interval timer fires once the event loop has handled the waiting input and
    paint events, so prefetching never delays the frame the user asked for.
    """

    def __init__(self, queue: PrefetchQueue, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer_timeout)
        queue.on_submit = self.kick

    def kick(self) -> None:
        """Start draining the queue on the next idle pass."""
        if not self._timer.isActive():
            self._timer.start()

    def _on_timer_timeout(self) -> None:
        self.queue.run_for(TICK_SECONDS)
        if self.queue.has_pending:
            self._timer.start()


_drivers: dict[int, IdlePrefetch] = {}


def idle_prefetch_for(queue: PrefetchQueue | None = None) -> IdlePrefetch:
    """Return the driver of ``queue`` (the process-wide queue by default), creating it once.

    The driver is a child of the QApplication, so create it after the application exists.
    """
    queue = queue if queue is not None else default_prefetch_queue()
    driver = _drivers.get(id(queue))
    if driver is None or driver.queue is not queue:
        driver = IdlePrefetch(queue, QCoreApplication.instance())
        _drivers[id(queue)] = driver
    return driver
