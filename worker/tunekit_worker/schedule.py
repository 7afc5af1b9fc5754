"""Learning-rate schedules as a multiplier of the peak learning rate (for LambdaLR): linear warmup
over `warmup_steps`, then cosine or linear decay to 0 at `total_steps`, or constant."""

from __future__ import annotations

import math


def learning_rate_multiplier(step: int, warmup_steps: int, total_steps: int, kind: str) -> float:
    """`step` is the number of optimizer steps already taken (the LR used by step `step + 1`)."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if kind == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(progress, 1.0)
    if kind == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))
