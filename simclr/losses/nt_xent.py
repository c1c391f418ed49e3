"""NT-Xent, the normalized temperature-scaled cross-entropy loss of SimCLR (Chen et al. 2020).

Paper, Algorithm 1: "l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau)" and
"L = 1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)]": each of the 2N embeddings is an anchor, its other
view is the positive, and the remaining 2N - 2 embeddings of the batch are the negatives.

With V views per image each anchor has V - 1 positives; its loss is the mean of l(i, p) over them
(the denominator still runs over every k != i), which is SupCon's L_out with "label = image". Under DDP
each rank scores its own anchors against every rank's candidates (simclr.losses.pairs), so the mean over ranks
is the single-process loss on the concatenated batch and the gradients match it.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclr.losses.pairs import Pairs, check_views, contrastive_pairs
from simclr.losses.pruning import NegativePruning
from simclr.losses.temperature import Temperature, check_temperature


def multi_positive_cross_entropy(
    pairs: Pairs, temperature: float | Tensor, pruning: NegativePruning | None = None
) -> Tensor:
    """-mean_{p in P(i)} log softmax_{k != i}(s_ik / tau)_p, averaged over anchors i.

    Args:
        pairs: similarities and masks (A anchors, C candidates) from `simclr.losses.pairs.contrastive_pairs`.
        temperature: tau (float or 0-d tensor).
        pruning: drops a fraction of each anchor's negatives from the denominator.

    Returns:
        Scalar float32. Every anchor must have a positive (true for V >= 2 views).
    """
    drop = pairs.self_mask
    if pruning is not None and pruning.fraction > 0:
        drop = drop | pruning(pairs.sim, pairs.neg_mask)
    logits = (pairs.sim / temperature).masked_fill(drop, float("-inf"))  # (A, C); |logits| <= 1/tau
    log_prob = logits.log_softmax(dim=1)  # log-sum-exp: finite at tau = 0.01 and below
    pos_log_prob = torch.where(pairs.pos_mask, log_prob, 0.0).sum(dim=1)  # (A,), where() avoids 0 * -inf
    return -(pos_log_prob / pairs.pos_mask.sum(dim=1)).mean()


def multiview_nt_xent(
    z: Tensor,
    temperature: float | Tensor = 0.5,
    gather_distributed: bool = True,
    pruning: NegativePruning | None = None,
    normalize: bool = True,
) -> Tensor:
    """NT-Xent over V >= 2 views: positives of an embedding are the other views of its image.

    Args:
        z: (V, N, D) projections, z[v, i] is view v of image i; N >= 2 (over all ranks).
        temperature: tau > 0 (float, or the tensor of a learnt temperature).
        gather_distributed: under DDP, negatives from every rank (2 N_global - 1 candidates for V = 2).
        pruning: optional negative pruning.
        normalize: cosine similarities (True, the paper) or raw dot products of z (False).

    Returns:
        Scalar float32, the mean over this rank's V N anchors. V = 2 is `nt_xent`.
    """
    check_views(z, "nt_xent")
    if not isinstance(temperature, Tensor):
        check_temperature(temperature, "nt_xent")
    pairs = contrastive_pairs(z, None, gather_distributed, normalize)
    return multi_positive_cross_entropy(pairs, temperature, pruning)


def nt_xent(
    z_a: Tensor,
    z_b: Tensor,
    temperature: float | Tensor = 0.5,
    gather_distributed: bool = True,
    pruning: NegativePruning | None = None,
) -> Tensor:
    """NT-Xent loss of SimCLR Algorithm 1, averaged over all 2N anchors.

    Cross-entropy is computed with log-sum-exp, so it is finite for temperatures down to 0.01 and
    below. The batch size is read from the inputs, so a short last batch is handled.

    Args:
        z_a: (N, D) projections of view 1, N >= 2.
        z_b: (N, D) projections of view 2.
        temperature: tau > 0.
        gather_distributed: see `multiview_nt_xent`; no effect without a process group.
        pruning: optional negative pruning.

    Returns:
        Scalar tensor (float32). Identical embeddings everywhere give log(2N - 1).
    """
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ValueError(
            f"nt_xent needs two (N, D) embeddings of the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    return multiview_nt_xent(torch.stack([z_a, z_b]), temperature, gather_distributed, pruning)


def similarity_logits(z_a: Tensor, z_b: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """Cosine-similarity logits of every anchor against its 2N - 1 candidates (this process only).

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
    logits = z @ z.T / temperature  # (2N, 2N)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # k != i in the denominator
    targets = torch.arange(2 * n, device=z.device).roll(n)  # (2N,): i -> i + N, i + N -> i
    return logits, targets


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
    """Module form of NT-Xent so configs can select the loss with class_path/init_args.

    Called as `loss(z_1, ..., z_V, labels=labels)` with V >= 2 views of shape (N, D); labels are ignored.

    Args:
        temperature: tau (the initial tau if learnt); the paper uses 0.1 for large batches, 0.5 for CIFAR-10.
        learnable_temperature: learn tau in log space, clamped at `min_temperature` (CLIP).
        min_temperature: lower bound of a learnt tau (default 0.01); an error for a fixed tau.
        gather_distributed: under DDP, negatives from every rank (the paper's global batch).
        pruning: drop a fraction of each anchor's negatives (`simclr.losses.pruning.NegativePruning`).
        normalize: l2-normalise z, so similarities are cosines ("sim(u, v) = u^T v / ||u|| ||v||"); False
            scores raw dot products (the paper's Table 5 ablation: worse representations).
    """

    def __init__(
        self,
        temperature: float = 0.5,
        learnable_temperature: bool = False,
        min_temperature: float | None = None,
        gather_distributed: bool = True,
        pruning: NegativePruning | None = None,
        normalize: bool = True,
    ):
        super().__init__()
        self.temperature = Temperature(temperature, learnable_temperature, min_temperature, name="NTXentLoss")
        self.gather_distributed = gather_distributed
        self.pruning = pruning
        self.normalize = normalize

    def forward(self, *views: Tensor, labels: Tensor | None = None) -> Tensor:
        z = torch.stack(views)  # (V, N, D)
        return multiview_nt_xent(z, self.temperature(), self.gather_distributed, self.pruning, self.normalize)
