"""Garbage collection on the GUI thread only.

Python's cyclic garbage collector runs in whichever thread happens to allocate when a
threshold is crossed. If that is a worker thread (the case loader) and the cycle holds a Qt
wrapper, Qt destroys the object off the GUI thread, which can crash the interpreter. So,
once the application starts worker threads, automatic collection is switched off and a GUI
timer collects instead (pyqtgraph's GarbageCollector, which collects each generation when
its count passes the usual threshold).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

COLLECT_INTERVAL_S = 1.0
_collector = None


def collect_on_gui_thread() -> None:
    """Disable automatic collection and collect from a GUI-thread timer; idempotent.

    Call it from the GUI thread after the QApplication exists.
    """
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=COLLECT_INTERVAL_S)
        log.debug("garbage collection moved to a GUI-thread timer")
