"""``--screenshot PNG``: save the main window once it has settled, then quit.

Used by ``installer/smoke.sh`` on the desktop bundle and by anyone who needs a picture of
the window without a person at the screen (with ``QT_QPA_PLATFORM=offscreen`` no display
is needed). The window counts as settled when no case is loading and the opened case has a
slice on screen (or no case is open), and it still is after the panels' settle delay.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from app.case_controller import SETTLE_MS

log = logging.getLogger(__name__)

POLL_MS = 50
TIMEOUT_S = 180.0


class WindowScreenshot(QObject):
    """Waits for ``window`` to settle, writes ``path`` and exits the event loop.

    The exit code is 0 when the PNG was written. It is 1 when saving failed or the window
    did not settle within ``timeout_s`` seconds, and the reason is logged as an error.
    """

    def __init__(self, window, path: str | Path, timeout_s: float = TIMEOUT_S) -> None:  # noqa: ANN001
        super().__init__(window)
        self.window = window
        self.path = Path(path)
        self._deadline = time.monotonic() + timeout_s
        self._timeout_s = timeout_s
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        self._poll.start()

    def _settled(self) -> bool:
        case = self.window.case
        if not self.window.isVisible() or case.loading_case_id is not None:
            return False
        return case.slice_id is not None or case.case_id is None

    def _on_poll_timeout(self) -> None:
        if time.monotonic() > self._deadline:
            self._finish(1, f"the window timed out: it did not finish loading within "
                            f"{self._timeout_s:.0f} s, so no screenshot was written to {self.path}")
            return
        if self._settled():
            # The panels follow the slice SETTLE_MS after it stops changing.
            self._poll.stop()
            QTimer.singleShot(SETTLE_MS + 250, self._on_settle_timeout)

    def _on_settle_timeout(self) -> None:
        if not self._settled():
            self._poll.start()
            return
        pixmap = self.window.grab()
        if not pixmap.save(str(self.path), "PNG"):
            self._finish(1, f"writing the screenshot {self.path} failed; check that its folder "
                            "exists and is writable")
            return
        log.info("wrote screenshot %s (%d x %d pixels)", self.path, pixmap.width(), pixmap.height())
        self._finish(0, None)

    def _finish(self, code: int, error: str | None) -> None:
        self._poll.stop()
        if error is not None:
            log.error("%s", error)
        app = QApplication.instance()
        # Closing the last window would quit with code 0 and hide a failure.
        app.setQuitOnLastWindowClosed(False)
        self.window.close()
        app.exit(code)
