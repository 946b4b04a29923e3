"""Learning-rate schedules: callables ``step -> lr`` (step counted from 0) for the
``schedule=`` argument of every optimiser. Any function of the step works too."""

from __future__ import annotations

import math
from collections.abc import Callable


def step_decay(lr: float, every: int, gamma: float = 0.5) -> Callable[[int], float]:
    """lr · gamma^⌊step / every⌋."""
    if every < 1:
        raise ValueError(f"step_decay: every must be >= 1, got {every}")
    return lambda step: lr * gamma ** (step // every)


def exponential_decay(lr: float, gamma: float) -> Callable[[int], float]:
    """lr · gamma^step."""
    return lambda step: lr * gamma**step


def cosine_decay(lr: float, total_steps: int, min_lr: float = 0.0) -> Callable[[int], float]:
    """From lr down to min_lr along half a cosine over ``total_steps``, then min_lr."""
    if total_steps < 1:
        raise ValueError(f"cosine_decay: total_steps must be >= 1, got {total_steps}")

    def schedule(step: int) -> float:
        progress = min(step, total_steps) / total_steps
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))

    return schedule
