"""Learning-rate schedule of SimCLR: linear warmup, then cosine decay to zero (section B.1)."""

import math


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the base learning rate at optimizer step `step` (0-based).

    Rises linearly from 1/warmup_steps to 1 over `warmup_steps`, then follows a half cosine from 1 to 0
    at `total_steps`. Steps past the end stay at 0.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))
