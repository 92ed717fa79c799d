"""The byte-bounded slice cache and the prefetch thread (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.display.slice_cache import PrefetchQueue, SliceCache
from engine.display.sources import ImageSliceSource
from viewer_data import ANATOMICAL, load_volume


def test_cache_evicts_least_recently_used():
    cache = SliceCache(budget_bytes=3 * 800)
    for name in "abc":
        cache.put(name, np.zeros(100, dtype=np.float64))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("d", np.zeros(100, dtype=np.float64))
    assert "b" not in cache
    assert "a" in cache
    assert "d" in cache
    assert cache.nbytes == 3 * 800


def test_cache_skips_array_over_budget():
    cache = SliceCache(budget_bytes=1000)
    big = np.zeros(1000, dtype=np.float32)
    returned = cache.put("big", big)
    assert len(cache) == 0
    assert cache.nbytes == 0
    assert np.shares_memory(returned, big)


def test_cache_returns_read_only_views():
    cache = SliceCache(budget_bytes=10_000)
    own = np.arange(10, dtype=np.float32)
    stored = cache.put("x", own)
    assert not stored.flags.writeable
    assert own.flags.writeable
    with pytest.raises(ValueError):
        stored[0] = 1


def test_cache_discard_drops_one_owner():
    cache = SliceCache(budget_bytes=10_000)
    cache.put((1, "slice", 0), np.zeros(10))
    cache.put((1, "slice", 1), np.zeros(10))
    cache.put((2, "slice", 0), np.zeros(10))
    cache.discard(1)
    assert len(cache) == 1
    assert (2, "slice", 0) in cache
    assert cache.nbytes == 80


def test_cache_rejects_nonpositive_budget():
    with pytest.raises(ValueError, match="budget"):
        SliceCache(budget_bytes=0)


def test_cache_bounded_with_many_series():
    volume = load_volume(ANATOMICAL)
    slice_bytes = 41 * 33 * 4
    cache = SliceCache(budget_bytes=40 * slice_bytes)
    queue = PrefetchQueue()
    stats = {"min": 0, "max": 1, "p1": 0, "p99": 1}
    sources = [ImageSliceSource(volume, cache=cache, prefetch_queue=queue, stats=stats) for _ in range(12)]
    for source in sources:
        for index in range(source.slice_count):
            source.slice(index)
            source.prefetch(index, radius=2)
            queue.run_all()
            assert cache.nbytes <= cache.budget_bytes
    assert cache.nbytes <= cache.budget_bytes
    assert len(cache) == 40


def test_prefetch_loads_neighbours():
    volume = load_volume(ANATOMICAL)
    cache = SliceCache(budget_bytes=10 * 1024 * 1024)
    queue = PrefetchQueue()
    source = ImageSliceSource(volume, cache=cache, prefetch_queue=queue)
    source.slice(10)
    source.prefetch(10, radius=3)
    assert len(queue) == 6
    assert queue.run_all() == 6
    misses = cache.misses
    for index in range(7, 14):
        source.slice(index)
    assert cache.misses == misses
    assert len(cache) == 7


def test_prefetch_runs_nearest_first():
    volume = load_volume(ANATOMICAL)
    cache = SliceCache(budget_bytes=10 * 1024 * 1024)
    queue = PrefetchQueue()
    source = ImageSliceSource(volume, cache=cache, prefetch_queue=queue)
    source.prefetch(10, radius=3)
    queue.run_next()
    queue.run_next()
    keys = [key for key in cache._entries]
    assert [key[-1] for key in keys] == [9, 11]


def test_prefetch_clips_at_volume_ends():
    volume = load_volume(ANATOMICAL)
    cache = SliceCache(budget_bytes=10 * 1024 * 1024)
    queue = PrefetchQueue()
    source = ImageSliceSource(volume, cache=cache, prefetch_queue=queue)
    source.prefetch(0, radius=4)
    queue.run_all()
    assert len(cache) == 4  # slices 1..4; slice 0 itself is read by the view


def test_prefetch_cancel_drops_pending_tasks():
    queue = PrefetchQueue()
    ran = []
    queue.submit("series", [lambda: ran.append(1), lambda: ran.append(2)])
    queue.cancel("series")
    assert queue.run_all() == 0
    assert ran == []


def test_prefetch_new_request_replaces_pending():
    queue = PrefetchQueue()
    ran = []
    queue.submit("other", [lambda: ran.append("other")])
    queue.submit("series", [lambda: ran.append("old")])
    queue.submit("series", [lambda: ran.append("new")])
    queue.run_all()
    assert ran == ["new", "other"]  # the latest request runs first


def test_prefetch_failure_is_logged_not_raised(caplog):
    queue = PrefetchQueue()
    ran = []

    def failing():
        raise OSError("file gone")

    queue.submit("series", [failing, lambda: ran.append("next")])
    assert queue.run_all() == 2
    assert ran == ["next"]
    assert "slice prefetch failed" in caplog.text


def test_prefetch_submit_calls_hook():
    queue = PrefetchQueue()
    calls = []
    queue.on_submit = lambda: calls.append(len(queue))
    queue.submit("series", [lambda: None, lambda: None])
    queue.submit("series", [])
    assert calls == [2]
