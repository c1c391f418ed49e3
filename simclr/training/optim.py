"""Optimiser parameter groups and the learning-rate schedule of SimCLR (section B.1): linear warmup,
then cosine decay to zero; biases and norm parameters get no weight decay and no LARS adaptation."""

import math

from torch import nn


def param_groups(model: nn.Module) -> list[dict]:
    """Split parameters: weights get weight decay and LARS adaptation; biases and norm parameters
    (1-d tensors) get neither, as in SimCLR's `exclude_from_weight_decay`."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True}]


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the base learning rate at optimizer step `step` (0-based).

    Rises linearly from 1/warmup_steps to 1 over `warmup_steps`, then follows a half cosine from 1 to 0
    at `total_steps`. Steps past the end stay at 0.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))
