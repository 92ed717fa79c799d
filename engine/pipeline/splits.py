"""Splitting cases into training and benchmark sets, stratified by tumour class.

The unit is the case, so all slices of a case land in the same split. The benchmark gets
round(share x cases) cases in total, spread over the tumour classes in proportion to their
case counts (largest remainders, ties by class name). Within a class, a seeded shuffle of
the case ids picks them.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

TRAIN, BENCHMARK = "train", "benchmark"
SPLITS = (TRAIN, BENCHMARK)


def assign_splits(case_classes: dict[int, str], benchmark_share: float,
                  seed: int) -> dict[int, str]:
    """Return {case id: "train" or "benchmark"} for ``case_classes`` ({case id: class})."""
    strata: dict[str, list[int]] = defaultdict(list)
    for case_id, tumour_class in case_classes.items():
        strata[tumour_class].append(case_id)
    total = math.floor(benchmark_share * len(case_classes) + 0.5)

    quota = {name: math.floor(benchmark_share * len(ids)) for name, ids in strata.items()}
    remainders = sorted(strata, key=lambda name: (-(benchmark_share * len(strata[name])
                                                    - quota[name]), name))
    for name in remainders[:max(total - sum(quota.values()), 0)]:
        quota[name] += 1

    result = {}
    for name in sorted(strata):
        ids = sorted(strata[name])
        random.Random(f"{seed}:split:{name}").shuffle(ids)
        for position, case_id in enumerate(ids):
            result[case_id] = BENCHMARK if position < quota[name] else TRAIN
    return result
