"""Gather embeddings from every rank with the gradient flowing back to the rank that made them.

Every helper works without a process group: `world_size()` is 1, `rank()` is 0 and the gathers return
their input, so the losses run unchanged on one device.

Why our own autograd Function rather than `torch.distributed.nn.functional.all_gather`: that one returns a
tuple of tensors and its backward has changed between releases (older ones divided or dropped the
gradient depending on the backend); the factor below is the whole point of this file, so it is written
out and tested (tests/test_distributed.py) against a single-process run.
"""

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Number of processes in the default group; 1 when torch.distributed is not initialised."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the default group; 0 when torch.distributed is not initialised."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _AllGatherWithGrad(torch.autograd.Function):
    """all_gather in forward; in backward, the sum over ranks of the gradient w.r.t. this rank's slice.

    Rank r's loss L_r depends on every rank's embeddings, so dL_total/dz_r = sum_r' dL_r'/dz_r: an
    all_reduce(SUM) of the incoming gradients, then this rank's slice. No 1/world_size here: DDP then
    averages parameter gradients over ranks, which turns sum_r' L_r' into the mean over ranks, i.e. the
    single-process loss on the concatenated batch when local batches are equal.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.n = x.shape[0]
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = rank() * ctx.n
        return grad[start : start + ctx.n]


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate `x` from every rank along dim 0, differentiable w.r.t. this rank's `x`.

    Args:
        x: (N_local, ...) with the same shape on every rank (DistributedSampler gives equal batches).

    Returns:
        (world_size * N_local, ...): rank r's rows at [r * N_local, (r + 1) * N_local). `x` itself
        without a process group.
    """
    if world_size() == 1:
        return x
    return _AllGatherWithGrad.apply(x)


@torch.no_grad()
def all_gather_no_grad(x: Tensor) -> Tensor:
    """`all_gather_with_grad` for tensors that need no gradient (labels, indices): (W * N_local, ...)."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)
