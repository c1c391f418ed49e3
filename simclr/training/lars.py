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

    def __init__(
        self, params: Iterable, lr: float = 0.3, momentum: float = 0.9, weight_decay: float = 1e-6, eta: float = 1e-3
    ):
        if lr < 0 or weight_decay < 0 or not 0 <= momentum < 1 or eta <= 0:
            raise ValueError(
                f"LARS got lr={lr}, momentum={momentum}, weight_decay={weight_decay}, eta={eta}; need lr, weight_decay >= 0, 0 <= momentum < 1, eta > 0"
            )
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars_exclude=False))

    @torch.no_grad()
    def step(self, closure=None):
        """One LARS step for every parameter with a gradient.

        Multi-tensor (`torch._foreach_*`): a handful of kernels per parameter group instead of ~8 per
        parameter, which matters on the GPU, where a ResNet-18 step would otherwise spend ~500 kernel
        launches here. Trust ratios are computed for all parameters at once as (P,) tensors: no host sync.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            d = [p.grad for p in params]
            if not group["lars_exclude"]:
                if group["weight_decay"]:
                    d = torch._foreach_add(d, params, alpha=group["weight_decay"])  # g + wd * w
                w_norm = torch.stack(torch._foreach_norm(params))  # (P,)
                d_norm = torch.stack(torch._foreach_norm(d))  # (P,)
                trust = torch.where(
                    (w_norm > 0) & (d_norm > 0), group["eta"] * w_norm / d_norm, torch.ones_like(w_norm)
                )
                d = torch._foreach_mul(d, list(trust.unbind()))  # new tensors: the gradients stay as they are
            bufs = []
            for p in params:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                bufs.append(state["momentum_buffer"])
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_add_(bufs, d, alpha=group["lr"])  # v = momentum * v + lr * trust * d
            torch._foreach_sub_(params, bufs)  # w -= v
        return loss
