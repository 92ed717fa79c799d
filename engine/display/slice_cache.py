"""A byte-bounded LRU cache of display slices, and the queue of slices to load ahead of time.

One cache is shared by every open series, so the memory it uses stays under one budget however
many series are open. The arrays it stores are read-only, because every view shares them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024


class SliceCache:
    """Thread-safe least-recently-used cache of arrays, bounded by their total ``nbytes``.

    An array larger than the whole budget is returned to the caller but not stored.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        if budget_bytes <= 0:
            raise ValueError(f"slice cache budget must be positive, not {budget_bytes} bytes")
        self.budget_bytes = int(budget_bytes)
        self._entries: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes of all stored arrays."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def get(self, key: Hashable) -> np.ndarray | None:
        """Return the array stored under ``key`` (and mark it recently used), or None."""
        with self._lock:
            array = self._entries.get(key)
            if array is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return array

    def put(self, key: Hashable, array: np.ndarray) -> np.ndarray:
        """Store ``array`` under ``key``, evicting the least recently used entries.

        Returns a read-only view of ``array``; the caller's own array stays writeable.
        """
        array = array.view()
        array.flags.writeable = False
        if array.nbytes > self.budget_bytes:
            return array
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._nbytes -= old.nbytes
            self._entries[key] = array
            self._nbytes += array.nbytes
            while self._nbytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._nbytes -= evicted.nbytes
        return array

    def get_or_compute(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Return the cached array for ``key``, computing and storing it on a miss."""
        array = self.get(key)
        if array is None:
            array = self.put(key, compute())
        return array

    def discard(self, owner: Hashable) -> None:
        """Remove every entry whose key is a tuple starting with ``owner`` (a closed series)."""
        with self._lock:
            for key in [k for k in self._entries if isinstance(k, tuple) and k and k[0] == owner]:
                self._nbytes -= self._entries.pop(key).nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._nbytes = 0


class PrefetchQueue:
    """Slice-loading tasks that wait for idle time, the newest request's owner first.

    A new request from the same owner (a slice source) replaces its pending one, so
    scrolling fast never builds a queue of slices the user has already left behind. The
    queue has no thread of its own: the GUI drains it with :meth:`run_for` in idle time. A
    Python worker thread would let the garbage collector run there, and a Qt object it
    collects would then be destroyed off the GUI thread.
    """

    def __init__(self) -> None:
        self._pending: OrderedDict[Hashable, list[Callable[[], object]]] = OrderedDict()
        self._lock = threading.Lock()
        self.on_submit: Callable[[], None] | None = None

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(tasks) for tasks in self._pending.values())

    def submit(self, owner: Hashable, tasks: list[Callable[[], object]]) -> None:
        """Queue ``tasks`` for ``owner``, dropping any tasks of ``owner`` not yet run."""
        with self._lock:
            self._pending.pop(owner, None)
            if tasks:
                self._pending[owner] = list(tasks)
        if tasks and self.on_submit is not None:
            self.on_submit()

    def cancel(self, owner: Hashable) -> None:
        """Drop the tasks of ``owner`` that have not run."""
        with self._lock:
            self._pending.pop(owner, None)

    def run_next(self) -> bool:
        """Run one task; return False when there was none."""
        with self._lock:
            if not self._pending:
                return False
            owner, tasks = next(reversed(self._pending.items()))
            task = tasks.pop(0)
            if not tasks:
                del self._pending[owner]
        try:
            task()
        except Exception:  # a failed prefetch only costs a later cache miss
            log.exception("slice prefetch failed")
        return True

    def run_for(self, seconds: float) -> int:
        """Run tasks until none is left or ``seconds`` have passed; return how many ran."""
        deadline = time.perf_counter() + seconds
        count = 0
        while self.run_next():
            count += 1
            if time.perf_counter() >= deadline:
                break
        return count

    def run_all(self) -> int:
        """Run every pending task; return how many ran."""
        count = 0
        while self.run_next():
            count += 1
        return count


_default_cache: SliceCache | None = None
_default_queue: PrefetchQueue | None = None


def default_cache() -> SliceCache:
    """Return the process-wide slice cache, shared by sources that are not given one."""
    global _default_cache
    if _default_cache is None:
        _default_cache = SliceCache()
    return _default_cache


def default_prefetch_queue() -> PrefetchQueue:
    """Return the process-wide prefetch queue, shared by sources that are not given one."""
    global _default_queue
    if _default_queue is None:
        _default_queue = PrefetchQueue()
    return _default_queue
