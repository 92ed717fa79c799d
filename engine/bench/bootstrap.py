"""Seeded percentile bootstrap intervals.

Every interval draws from its own generator, seeded by the run seed and the interval's name,
so an interval does not change when other groups are added or reordered.

NOTE: questions are resampled independently, although questions about the same image are
correlated; intervals are therefore somewhat narrower than an image-level bootstrap's.
"""

from __future__ import annotations

import zlib
from typing import Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95


def generator(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def _percentiles(samples: np.ndarray) -> list[float]:
    tail = (1.0 - LEVEL) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return [float(low), float(high)]


def proportion_interval(count: int, total: int, name: str, seed: int = DEFAULT_SEED,
                        resamples: int = DEFAULT_RESAMPLES) -> list[float] | None:
    """95% interval of ``count / total`` from resampling the ``total`` 0/1 outcomes with
    replacement; None when ``total`` is 0.

    The number of successes in a resample of n outcomes with k successes is binomial
    (n, k/n), so drawing that count directly is the same bootstrap, only faster.
    """
    if total == 0:
        return None
    draws = generator(seed, name).binomial(total, count / total, size=resamples) / total
    return _percentiles(draws)


def mean_interval(values: Sequence[float], name: str, seed: int = DEFAULT_SEED,
                  resamples: int = DEFAULT_RESAMPLES) -> list[float] | None:
    """95% interval of the mean of ``values`` (resampled with replacement); None if empty."""
    if len(values) == 0:
        return None
    array = np.asarray(values, dtype=float)
    indices = generator(seed, name).integers(0, len(array), size=(resamples, len(array)))
    return _percentiles(array[indices].mean(axis=1))


def statistic_interval(count: int, statistic: Callable[[np.ndarray], float], name: str,
                       seed: int = DEFAULT_SEED,
                       resamples: int = DEFAULT_RESAMPLES) -> list[float] | None:
    """95% interval of ``statistic(indices)`` over resampled index arrays of length ``count``,
    for corpus-level statistics such as BLEU; None when ``count`` is 0."""
    if count == 0:
        return None
    rng = generator(seed, name)
    samples = np.array([statistic(rng.integers(0, count, size=count)) for _ in range(resamples)])
    return _percentiles(samples)
