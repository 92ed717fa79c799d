"""Learning-rate schedules with linear warm-up, as multipliers of the peak learning rate.

The formulas are those of ``transformers.get_{cosine,linear,constant}_schedule_with_warmup``
(transformers 5.x), so a run of this trainer and one of the Hugging Face Trainer with the
same settings follow the same learning rate. The warm-up lasts
``ceil(total_steps * warmup_ratio)`` optimizer steps.
"""

from __future__ import annotations

import math
from typing import Callable


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    return math.ceil(total_steps * warmup_ratio)


def lr_multiplier(kind: str, total_steps: int, warmup: int) -> Callable[[int], float]:
    """Return f(step) -> factor of the peak learning rate for the optimizer step ``step`` (from 0)."""
    def warming(step: int) -> float | None:
        return step / max(1, warmup) if step < warmup else None

    def cosine(step: int) -> float:
        factor = warming(step)
        if factor is not None:
            return factor
        progress = (step - warmup) / max(1, total_steps - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    def linear(step: int) -> float:
        factor = warming(step)
        if factor is not None:
            return factor
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    def constant(step: int) -> float:
        factor = warming(step)
        return 1.0 if factor is None else factor

    schedules = {"cosine": cosine, "linear": linear, "constant": constant}
    if kind not in schedules:
        raise ValueError(f"unknown schedule '{kind}'")
    return schedules[kind]


def build_scheduler(optimizer, kind: str, total_steps: int, warmup_ratio: float):  # noqa: ANN001
    """Return a ``LambdaLR`` for ``optimizer`` (its state resumes with ``load_state_dict``)."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lr_multiplier(kind, total_steps, warmup_steps(total_steps, warmup_ratio)))
