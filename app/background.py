"""Engine calls on a worker thread, with their results delivered on the GUI thread.

Database queries that can take longer than a frame (metrics with bootstrap intervals,
training snapshots, model registration, merges) run here, never in a slot. The worker
thread only calls Qt-free engine functions. A timer on the GUI thread polls the futures
and calls the result or error callback there, as the case loader does. A task that takes
a :class:`TaskProgress` is cancelled at its next progress call.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.gc_policy import collect_on_gui_thread
from engine.errors import Cancelled, WorkbenchError
from engine.progress import Progress

log = logging.getLogger(__name__)

POLL_MS = 20


class TaskProgress(Progress):
    """Progress of a background task; raises Cancelled once :meth:`cancel` was called."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("cancelled in the window")

    def report(self) -> None:
        self.check()


@dataclass
class Task:
    """One call in flight: its future, callbacks and progress."""

    name: str
    future: Future
    on_done: Callable[[Any], None] | None
    on_error: Callable[[str], None] | None
    progress: TaskProgress = field(default_factory=TaskProgress)

    def cancel(self) -> None:
        self.progress.cancel()
        self.future.cancel()


def error_text(error: BaseException) -> str:
    """Return the one-line message of an engine error, or the type and text of another one."""
    if isinstance(error, WorkbenchError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class BackgroundTasks(QObject):
    """Runs calls one after another on a thread of its own.

    ``failed(name, message)`` is emitted for every error whose task has no ``on_error``.
    """

    failed = Signal(str, str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._tasks: list[Task] = []
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def pending(self, name: str) -> bool:
        """True while a task called ``name`` is queued or running."""
        return any(task.name == name for task in self._tasks)

    def run(self, name: str, function: Callable[..., Any], *args: Any,
            on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[str], None] | None = None, with_progress: bool = False,
            **kwargs: Any) -> Task:
        """Call ``function(*args, **kwargs)`` on the worker thread.

        With ``with_progress`` the call also gets ``progress=`` (a TaskProgress), so
        :meth:`Task.cancel` stops it at its next progress call.
        """
        progress = TaskProgress()
        if with_progress:
            kwargs["progress"] = progress
        future = self._executor.submit(function, *args, **kwargs)
        task = Task(name, future, on_done, on_error, progress)
        self._tasks.append(task)
        self._timer.start()
        return task

    def wait(self, timeout: float = 60.0) -> None:
        """Block until every task has finished and its callback ran (tests, scripts)."""
        while self._tasks:
            self._tasks[0].future.exception(timeout)
            self._on_timer_timeout()

    def shutdown(self) -> None:
        """Cancel what has not started, stop polling and let the thread end."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._timer.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _on_timer_timeout(self) -> None:
        finished = [task for task in self._tasks if task.future.done()]
        for task in finished:
            self._tasks.remove(task)
            self._deliver(task)
        if not self._tasks:
            self._timer.stop()

    def _deliver(self, task: Task) -> None:
        if task.future.cancelled():
            return
        error = task.future.exception()
        if error is None:
            if task.on_done is not None:
                task.on_done(task.future.result())
            return
        if isinstance(error, Cancelled):
            log.info("task %s cancelled", task.name)
            return
        if isinstance(error, WorkbenchError):
            log.warning("task %s failed: %s", task.name, error)
        else:
            log.error("task %s failed", task.name, exc_info=error)
        message = error_text(error)
        if task.on_error is not None:
            task.on_error(message)
        else:
            self.failed.emit(task.name, message)
