"""Momentum (EMA) targets shared by MoCo and BYOL: a frozen copy of the online network, updated by
"theta_k <- m theta_k + (1 - m) theta_q" (MoCo, Eq. 2) with BYOL's cosine schedule for m."""

import copy
import math

import torch
from torch import nn


def momentum_copy(online: nn.Module) -> nn.Module:
    """A deep copy of `online` whose parameters take no gradient (MoCo: "initialized as the query encoder")."""
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place, for every parameter pair: target = m * target + (1 - m) * online.

    Buffers (BatchNorm running statistics) are left alone: each network keeps those of its own forward passes.

    Args:
        target: the momentum network (same architecture as `online`).
        online: the network trained by the optimiser.
        momentum: m in [0, 1]; 1 freezes the target, 0 copies the online weights.
    """
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.mul_(momentum).add_(o.detach() * (1.0 - momentum))  # m * t + (1 - m) * o


def cosine_momentum(step: int, total_steps: int, base: float) -> float:
    """BYOL's schedule (section 3.2): "tau = 1 - (1 - tau_base) * (cos(pi k / K) + 1) / 2".

    Args:
        step: k, optimiser steps taken so far.
        total_steps: K, optimiser steps of the whole run.
        base: tau_base (0.996 in the paper); tau rises from it to 1 at the end of training.
    """
    progress = min(1.0, step / max(1, total_steps))
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def check_momentum(value: float, name: str, paper: float) -> None:
    """A one-line UserError unless 0 <= value <= 1."""
    from simclr.errors import UserError

    if not 0.0 <= value <= 1.0:
        raise UserError(f"{name} must be in [0, 1], got {value}; the paper uses {paper}")
