"""The order in which samples are seen: epochs, micro-batches and optimizer steps.

Everything follows from the seed and the optimizer step, so a resumed run sees exactly the
samples the uninterrupted run would have seen. Each epoch shuffles the training indices
with ``random.Random("<seed>:epoch:<n>")`` (the same on every platform and torch version).
One global micro-batch holds ``batch_size x processes`` samples; process r takes the r-th
slice. Several processes pad the epoch's last global micro-batch with samples from the
start of the epoch's order (as torch's DistributedSampler does) so every process gets a
full batch. Optimizer step t of an epoch accumulates micro-batches
``t*accumulation ... (t+1)*accumulation - 1``; the last step of an epoch may have fewer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class DataOrder:
    """Sample order for ``sample_count`` training samples."""

    sample_count: int
    batch_size: int
    accumulation: int
    epochs: float
    seed: int
    world_size: int = 1

    @property
    def micro_batches_per_epoch(self) -> int:
        return math.ceil(self.sample_count / (self.batch_size * self.world_size))

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.micro_batches_per_epoch / self.accumulation)

    @property
    def total_steps(self) -> int:
        return max(1, math.ceil(self.epochs * self.steps_per_epoch))

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def epoch_progress(self, steps_done: int) -> float:
        """Epochs completed after ``steps_done`` optimizer steps (fractional)."""
        return steps_done / self.steps_per_epoch

    def step_micro_batches(self, step: int, rank: int = 0) -> list[list[int]]:
        """Return the sample indices of each micro-batch of optimizer step ``step`` for ``rank``."""
        epoch = self.epoch_of(step)
        local = step % self.steps_per_epoch
        first = local * self.accumulation
        last = min(first + self.accumulation, self.micro_batches_per_epoch)
        order = self._epoch_order(epoch)
        global_size = self.batch_size * self.world_size
        batches = []
        for micro in range(first, last):
            chunk = order[micro * global_size:(micro + 1) * global_size]
            batches.append(list(chunk[rank * self.batch_size:(rank + 1) * self.batch_size]))
        return batches

    def micro_batch_position(self, step: int) -> int:
        """Return the index within its epoch of the first micro-batch of ``step``."""
        return (step % self.steps_per_epoch) * self.accumulation

    @lru_cache(maxsize=4)
    def _epoch_order(self, epoch: int) -> tuple[int, ...]:
        order = list(range(self.sample_count))
        random.Random(f"{self.seed}:epoch:{epoch}").shuffle(order)
        padded = self.micro_batches_per_epoch * self.batch_size * self.world_size
        if self.world_size > 1 and padded > len(order):
            order += order[:padded - len(order)]
        return tuple(order)
