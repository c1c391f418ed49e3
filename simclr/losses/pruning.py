"""Negative pruning: drop a fixed fraction of each anchor's negatives from the loss.

The seeds ask "should we prune negatives, and how?". `NegativePruning` removes, per anchor, the
floor(fraction x its negatives) negatives chosen at random, the hardest (highest cosine similarity) or the
easiest (lowest). Pruned pairs leave the softmax denominator (NT-Xent, SupCon) or the pair sum (sigmoid).

Pruning shows each step fewer pairs; `simclr.training.pair_budget.ConstantPairsBudget` (a callback) scales the
training length by 1 / (1 - fraction) so that a pruned run sees as many pairs as the unpruned one.
"""

from typing import Literal

import torch
from torch import Tensor

from simclr.errors import UserError


def prune_mask(
    sim: Tensor, neg_mask: Tensor, fraction: float, strategy: str, generator: torch.Generator | None = None
) -> Tensor:
    """Which negatives to drop: exactly floor(fraction * n_i) of anchor i's n_i negatives.

    Ranks each row's negatives by a score (similarity for "hardest", minus similarity for "easiest",
    uniform noise for "random") and takes the top k_i by a per-row rank, so rows with different
    numbers of negatives (supervised contrastive) each get their own count. No loop, no host sync.

    Args:
        sim: (A, C) similarities (not differentiated through).
        neg_mask: (A, C) bool, True where the pair is a negative.
        fraction: in [0, 1).
        strategy: "random", "hardest" or "easiest".
        generator: RNG for "random" (default: the global one).

    Returns:
        (A, C) bool, True for pruned pairs; always a subset of `neg_mask`.
    """
    sim = sim.detach()
    if strategy == "hardest":
        score = sim.clone()
    elif strategy == "easiest":
        score = -sim
    else:
        score = torch.rand(sim.shape, generator=generator, device=sim.device) if generator else torch.rand_like(sim)
    score = score.masked_fill(~neg_mask, float("-inf"))  # non-negatives sort last
    k = (neg_mask.sum(dim=1) * fraction + 1e-6).floor().long()  # (A,) negatives to drop per anchor
    order = score.argsort(dim=1, descending=True)  # (A, C)
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(sim.shape[1], device=sim.device).expand_as(order))
    return (ranks < k[:, None]) & neg_mask


class NegativePruning(torch.nn.Module):
    """Config object for the losses' `pruning` argument.

    Args:
        fraction: share of each anchor's negatives removed, in [0, 1).
        strategy: "random", "hardest" (highest similarity first) or "easiest" (lowest first).
    """

    def __init__(self, fraction: float = 0.5, strategy: Literal["random", "hardest", "easiest"] = "random"):
        super().__init__()
        if not 0.0 <= fraction < 1.0:
            raise UserError(
                f"NegativePruning fraction must be in [0, 1), got {fraction}; 0.5 drops half of each anchor's negatives"
            )
        if strategy not in ("random", "hardest", "easiest"):
            raise UserError(f"NegativePruning strategy must be 'random', 'hardest' or 'easiest', got {strategy!r}")
        self.fraction = fraction
        self.strategy = strategy

    def forward(self, sim: Tensor, neg_mask: Tensor) -> Tensor:
        """(A, C) similarities and negative mask -> (A, C) bool mask of pruned pairs."""
        return prune_mask(sim, neg_mask, self.fraction, self.strategy)

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}, strategy={self.strategy}"
