"""NT-Xent, the normalized temperature-scaled cross-entropy loss of SimCLR (Chen et al. 2020).

Paper, Algorithm 1: "l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau)" and
"L = 1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)]": each of the 2N embeddings is an anchor, its other
view is the positive, and the remaining 2N - 2 embeddings of the batch are the negatives.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclr.errors import UserError


def _check(z_a: Tensor, z_b: Tensor, temperature: float) -> None:
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ValueError(f"nt_xent needs two (N, D) embeddings of the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    if z_a.shape[0] < 2:
        raise UserError(
            f"nt_xent needs a batch of at least 2 images (got N={z_a.shape[0]}): with one image there are no negatives; "
            "set data.init_args.batch_size >= 2 and keep drop_last=True"
        )
    if not temperature > 0:
        raise UserError(f"nt_xent temperature must be > 0, got {temperature}; SimCLR uses 0.1 to 0.5")


def similarity_logits(z_a: Tensor, z_b: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """Cosine-similarity logits of every anchor against its 2N - 1 candidates.

    Args:
        z_a: (N, D) projections of the first views.
        z_b: (N, D) projections of the second views; row i of z_a and z_b is a positive pair.
        temperature: tau > 0.

    Returns:
        logits: (2N, 2N) float32, s_ik / tau with the diagonal (k = i) set to -inf.
        targets: (2N,) long, the column of each anchor's positive (i + N mod 2N).
    """
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)  # (2N, D) on the unit sphere
    logits = z @ z.T / temperature  # (2N, 2N); |s| <= 1 so |logits| <= 1/tau, no exp() is taken here
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # k != i in the denominator
    targets = torch.arange(2 * n, device=z.device).roll(n)  # (2N,): i -> i + N, i + N -> i
    return logits, targets


def nt_xent(z_a: Tensor, z_b: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent loss of SimCLR Algorithm 1, averaged over all 2N anchors.

    Cross-entropy is computed with log-sum-exp, so it is finite for temperatures down to 0.01 and
    below. The batch size is read from the inputs, so a short last batch is handled.

    Args:
        z_a: (N, D) projections of view 1, N >= 2.
        z_b: (N, D) projections of view 2.
        temperature: tau > 0.

    Returns:
        Scalar tensor (float32). Identical embeddings everywhere give log(2N - 1).
    """
    _check(z_a, z_b, temperature)
    logits, targets = similarity_logits(z_a, z_b, temperature)
    return F.cross_entropy(logits, targets)


@torch.no_grad()
def contrastive_stats(z_a: Tensor, z_b: Tensor) -> dict[str, Tensor]:
    """Monitoring figures of a batch, all as device tensors (no host sync).

    Args:
        z_a: (N, D) projections of view 1.
        z_b: (N, D) projections of view 2.

    Returns:
        `pos_sim`: mean cosine similarity of positive pairs; `neg_sim`: mean cosine similarity of the
        2N(2N - 2) negative pairs; `top1`: fraction of anchors whose positive is the most similar of
        its 2N - 1 candidates (contrastive accuracy).
    """
    n = z_a.shape[0]
    sim, targets = similarity_logits(z_a, z_b, 1.0)  # (2N, 2N) cosine similarities, -inf diagonal
    pos = sim.gather(1, targets[:, None]).squeeze(1)  # (2N,)
    finite = sim.masked_fill(sim.isinf(), 0.0)
    neg_sum = finite.sum() - pos.sum()
    return {
        "pos_sim": pos.mean(),
        "neg_sim": neg_sum / (2 * n * (2 * n - 2)),
        "top1": (sim.argmax(dim=1) == targets).float().mean(),
    }


class NTXentLoss(nn.Module):
    """Module form of `nt_xent` so configs can select the loss with class_path/init_args.

    Args:
        temperature: tau; the paper uses 0.1 for large batches and 0.5 for CIFAR-10.
    """

    def __init__(self, temperature: float = 0.5):
        super().__init__()
        if not temperature > 0:
            raise UserError(f"NTXentLoss temperature must be > 0, got {temperature}; set model.loss.init_args.temperature to 0.1-0.5 as SimCLR does")
        self.temperature = temperature

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        return nt_xent(z_a, z_b, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"

