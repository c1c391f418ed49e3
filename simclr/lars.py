"""LARS optimizer (You et al. 2017) as SimCLR uses it.

Written here because torch has no LARS. SimCLR section B.1: "LARS ... for all batch sizes", with the
trust ratio and weight decay skipped for biases and batch-norm parameters (their `exclude_from_layer_adaptation`).
Parameter groups with `lars_exclude=True` get plain momentum SGD without weight decay or trust ratio.
"""

from collections.abc import Iterable

import torch
from torch.optim import Optimizer


class LARS(Optimizer):
    """Layer-wise adaptive rate scaling on top of momentum SGD.

    Per parameter w with gradient g: d = g + weight_decay * w; trust = eta * ||w|| / ||d|| (1 where either
    norm is zero); v = momentum * v + lr * trust * d; w -= v. Runs on the device with no host sync.

    Args:
        params: parameters or parameter groups; groups may set `lars_exclude=True`.
        lr: learning rate (the paper: 0.3 x batch/256, or 0.075 x sqrt(batch) with square-root scaling).
        momentum: SGD momentum.
        weight_decay: L2 coefficient (1e-6 in the paper).
        eta: trust coefficient (0.001).
    """

    def __init__(self, params: Iterable, lr: float = 0.3, momentum: float = 0.9, weight_decay: float = 1e-6, eta: float = 1e-3):
        if lr < 0 or weight_decay < 0 or not 0 <= momentum < 1 or eta <= 0:
            raise ValueError(f"LARS got lr={lr}, momentum={momentum}, weight_decay={weight_decay}, eta={eta}; need lr, weight_decay >= 0, 0 <= momentum < 1, eta > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars_exclude=False))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            exclude = group["lars_exclude"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if not exclude:
                    if group["weight_decay"]:
                        d = d.add(p, alpha=group["weight_decay"])
                    w_norm, d_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(d)
                    trust = torch.where((w_norm > 0) & (d_norm > 0), group["eta"] * w_norm / d_norm, torch.ones_like(w_norm))
                    d = d * trust
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(group["momentum"]).add_(d, alpha=group["lr"])
                p.sub_(buf)
        return loss
