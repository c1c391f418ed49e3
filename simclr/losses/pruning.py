"""Negative pruning: drop a fixed fraction of each anchor's negatives from the loss.

The seeds ask "should we prune negatives, and how?". `NegativePruning(fraction, drop)` removes, per anchor,
floor(fraction x its negatives) negatives: `drop="hardest"` removes those with the highest cosine similarity
(keeping the easy ones), `drop="easiest"` those with the lowest (keeping the hard ones, what the literature
calls hard-negative mining), `drop="random"` a uniform choice. Pruned pairs leave the softmax denominator
(NT-Xent, SupCon) or the pair sum (sigmoid).

Pruning shows each step fewer pairs; `simclr.training.pair_budget.ConstantPairsBudget` (a callback) scales the
training length by 1 / (1 - fraction) so that a pruned run sees as many pairs as the unpruned one.
"""

from typing import Literal

import torch
from torch import Tensor

from simclr.errors import UserError

Drop = Literal["hardest", "easiest", "random"]
DROPS = ("hardest", "easiest", "random")


def prune_mask(
    sim: Tensor, neg_mask: Tensor, fraction: float, drop: Drop, generator: torch.Generator | None = None
) -> Tensor:
    """Which negatives to drop: exactly floor(fraction * n_i) of anchor i's n_i negatives.

    Ranks each row's negatives by a score (similarity for drop="hardest", minus similarity for
    drop="easiest", uniform noise for drop="random") and drops the top k_i by a per-row rank, so rows
    with different numbers of negatives (supervised contrastive) each get their own count. No loop, no
    host sync.

    Args:
        sim: (A, C) similarities (not differentiated through).
        neg_mask: (A, C) bool, True where the pair is a negative.
        fraction: in [0, 1).
        drop: which negatives are dropped: "hardest" (highest similarity), "easiest" (lowest) or "random".
        generator: RNG for "random" (default: the global one).

    Returns:
        (A, C) bool, True for pruned pairs; always a subset of `neg_mask`.
    """
    sim = sim.detach()
    if drop == "hardest":
        score = sim.clone()
    elif drop == "easiest":
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
        drop: which negatives are removed: "hardest" (highest similarity first, keeps the easy ones),
            "easiest" (lowest first, keeps the hard negatives) or "random".
    """

    def __init__(self, fraction: float = 0.5, drop: Drop = "random"):
        super().__init__()
        if not 0.0 <= fraction < 1.0:
            raise UserError(
                f"NegativePruning fraction must be in [0, 1), got {fraction}; 0.5 drops half of each anchor's negatives"
            )
        if drop not in DROPS:
            raise UserError(
                f"NegativePruning drop must be 'hardest', 'easiest' or 'random', got {drop!r}; "
                "drop='easiest' keeps the hard negatives"
            )
        self.fraction = fraction
        self.drop = drop

    def forward(self, sim: Tensor, neg_mask: Tensor) -> Tensor:
        """(A, C) similarities and negative mask -> (A, C) bool mask of pruned pairs."""
        return prune_mask(sim, neg_mask, self.fraction, self.drop)

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}, drop={self.drop}"
