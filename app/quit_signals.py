"""Quit the application on SIGTERM and SIGINT the way File > Quit does.

Python runs a signal handler only when the interpreter gets control, and Qt's event loop
can wait in C++ for a long time. So the C-level handler writes the signal number to a
socket (``signal.set_wakeup_fd``), and a QSocketNotifier wakes the event loop, which then
closes the main window. Its close event saves the settings and stops the worker this
process started, unless jobs are queued or running.
"""

from __future__ import annotations

import logging
import signal
import socket

from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

QUIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class QuitOnSignal(QObject):
    """Closes ``window`` and quits the application when SIGTERM or SIGINT arrives.

    Create it on the main thread, the only one that may install signal handlers.
    :meth:`uninstall` restores the previous handlers.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        # Python writes the wakeup byte only for signals with a Python-level handler. The
        # notifier slot does the work, so the handler itself does nothing.
        self._previous = {number: signal.signal(number, _ignore) for number in QUIT_SIGNALS}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_notifier_activated)

    def uninstall(self) -> None:
        self._notifier.setEnabled(False)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()

    def _on_notifier_activated(self, *_args) -> None:
        try:
            received = self._reader.recv(64)
        except BlockingIOError:
            return
        numbers = {number for number in received if number in QUIT_SIGNALS}
        if not numbers:
            return
        names = ", ".join(signal.Signals(number).name for number in sorted(numbers))
        log.info("received %s, closing the main window", names)
        self.window.close()
        QApplication.quit()


def _ignore(_number, _frame) -> None:
    pass
