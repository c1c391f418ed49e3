"""Shuffling BN (MoCo, section 3.3): "we shuffle the sample order in the current mini-batch for the key encoder
before distributing it among GPUs (and shuffle back after encoding)", so the BatchNorm statistics of a key
never come from the same images as its query's. Without a process group both functions are the identity
(one device computes BN over the whole batch either way).
"""

import torch
import torch.distributed as dist
from torch import Tensor

from simclr.losses.gather import all_gather_no_grad, rank, world_size


@torch.no_grad()
def shuffle_across_ranks(x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor | None]:
    """This rank's slice of a random permutation of every rank's batch.

    Args:
        x: (N, ...) this rank's images; N the same on every rank.
        generator: draws the permutation on rank 0 (broadcast to the others).

    Returns:
        (x_shuffled (N, ...), unshuffle indices (W * N,) for `unshuffle_across_ranks`; None on one process).
    """
    if world_size() == 1:
        return x, None
    gathered = all_gather_no_grad(x)  # (W * N, ...)
    perm = torch.randperm(gathered.shape[0], device=x.device, generator=generator)
    dist.broadcast(perm, src=0)  # every rank uses rank 0's permutation
    mine = perm.view(world_size(), -1)[rank()]  # (N,)
    return gathered[mine], torch.argsort(perm)


@torch.no_grad()
def unshuffle_across_ranks(y: Tensor, unshuffle: Tensor | None) -> Tensor:
    """Undo `shuffle_across_ranks` on its outputs: (N, ...) -> (N, ...) in this rank's original order."""
    if unshuffle is None:
        return y
    gathered = all_gather_no_grad(y)  # (W * N, ...)
    return gathered[unshuffle.view(world_size(), -1)[rank()]]
