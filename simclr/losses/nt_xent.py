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

from simclr.losses.pairs import Pairs, check_anchor_chunk, check_views, gather_candidates, mean_over_anchors
from simclr.losses.pruning import NegativePruning
from simclr.losses.temperature import Temperature, check_temperature


def multi_positive_cross_entropy_rows(
    pairs: Pairs, temperature: float | Tensor, pruning: NegativePruning | None = None
) -> Tensor:
    """-mean_{p in P(i)} log softmax_{k != i}(s_ik / tau)_p for each anchor i.

    Args:
        pairs: similarities and masks (A anchors, C candidates) from `simclr.losses.pairs`.
        temperature: tau (float or 0-d tensor).
        pruning: drops a fraction of each anchor's negatives from the denominator.

    Returns:
        (A,) float32. Every anchor must have a positive (true for V >= 2 views).
    """
    drop = pairs.self_mask
    if pruning is not None and pruning.fraction > 0:
        drop = drop | pruning(pairs.sim, pairs.neg_mask)
    logits = (pairs.sim / temperature).masked_fill(drop, float("-inf"))  # (A, C); |logits| <= 1/tau
    log_prob = logits.log_softmax(dim=1)  # log-sum-exp: finite at tau = 0.01 and below
    pos_log_prob = torch.where(pairs.pos_mask, log_prob, 0.0).sum(dim=1)  # (A,), where() avoids 0 * -inf
    return -pos_log_prob / pairs.pos_mask.sum(dim=1)


def multiview_nt_xent(
    z: Tensor,
    temperature: float | Tensor = 0.5,
    gather_distributed: bool = True,
    pruning: NegativePruning | None = None,
    normalize: bool = True,
    anchor_chunk: int | None = None,
) -> Tensor:
    """NT-Xent over V >= 2 views: positives of an embedding are the other views of its image.

    Args:
        z: (V, N, D) projections, z[v, i] is view v of image i; N >= 2 (over all ranks).
        temperature: tau > 0 (float, or the tensor of a learnt temperature).
        gather_distributed: under DDP, negatives from every rank (2 N_global - 1 candidates for V = 2).
        pruning: optional negative pruning.
        normalize: cosine similarities (True, the paper) or raw dot products of z (False).
        anchor_chunk: score the anchors in blocks of this many rows (`simclr.losses.pairs.mean_over_anchors`):
            memory for one block of the similarity matrix instead of all of it, same value and gradient.

    Returns:
        Scalar float32, the mean over this rank's V N anchors. V = 2 is `nt_xent`.
    """
    check_views(z, "nt_xent")
    if not isinstance(temperature, Tensor):
        check_temperature(temperature, "nt_xent")
    candidates = gather_candidates(z, None, gather_distributed, normalize)
    return mean_over_anchors(
        lambda pairs: multi_positive_cross_entropy_rows(pairs, temperature, pruning), candidates, anchor_chunk
    )


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


STATS_ROWS = 512  # anchors per block of `contrastive_stats`: bounded memory at any batch


@torch.no_grad()
def contrastive_stats(z_a: Tensor, z_b: Tensor) -> dict[str, Tensor]:
    """Monitoring figures of a batch, all as device tensors (no host sync).

    The 2N x 2N similarities are computed in blocks of `STATS_ROWS` anchors, so large batches
    (gradient caching) do not need the whole matrix at once.

    Args:
        z_a: (N, D) projections of view 1.
        z_b: (N, D) projections of view 2.

    Returns:
        `pos_sim`: mean cosine similarity of positive pairs; `neg_sim`: mean cosine similarity of the
        2N(2N - 2) negative pairs; `top1`: fraction of anchors whose positive is the most similar of
        its 2N - 1 candidates (contrastive accuracy).
    """
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)  # (2N, D) on the unit sphere
    targets = torch.arange(2 * n, device=z.device).roll(n)  # (2N,): i -> i + N, i + N -> i
    pos_sum = z.new_zeros(())
    all_sum = z.new_zeros(())
    hits = z.new_zeros(())
    for start in range(0, 2 * n, STATS_ROWS):
        rows = slice(start, min(start + STATS_ROWS, 2 * n))
        sim = z[rows] @ z.T  # (a, 2N)
        own = torch.arange(rows.start, rows.stop, device=z.device)
        pos = sim.gather(1, targets[rows, None]).squeeze(1)  # (a,)
        pos_sum += pos.sum()
        all_sum += sim.sum() - sim.gather(1, own[:, None]).sum()  # every pair but the anchor with itself
        sim[torch.arange(len(own), device=z.device), own] = float("-inf")  # each anchor with itself
        hits += (sim.argmax(dim=1) == targets[rows]).float().sum()
    return {
        "pos_sim": pos_sum / (2 * n),
        "neg_sim": (all_sum - pos_sum) / (2 * n * (2 * n - 2)),
        "top1": hits / (2 * n),
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
        anchor_chunk: score the anchors in blocks of this many rows, each re-computed in the backward pass: the
            loss then holds one block of the (V N) x (V N) similarity matrix instead of all of it, with the same
            value and gradient, at the cost of computing the similarities twice. For large batches (with
            `SimCLR(chunk_size=...)`, whose gradient cache bounds the network's memory but not the loss's).
            None (default): the whole matrix at once.
    """

    def __init__(
        self,
        temperature: float = 0.5,
        learnable_temperature: bool = False,
        min_temperature: float | None = None,
        gather_distributed: bool = True,
        pruning: NegativePruning | None = None,
        normalize: bool = True,
        anchor_chunk: int | None = None,
    ):
        super().__init__()
        self.temperature = Temperature(temperature, learnable_temperature, min_temperature, name="NTXentLoss")
        self.gather_distributed = gather_distributed
        self.pruning = pruning
        self.normalize = normalize
        check_anchor_chunk(anchor_chunk, "NTXentLoss")
        self.anchor_chunk = anchor_chunk

    def forward(self, *views: Tensor, labels: Tensor | None = None) -> Tensor:
        z = torch.stack(views)  # (V, N, D)
        return multiview_nt_xent(
            z, self.temperature(), self.gather_distributed, self.pruning, self.normalize, self.anchor_chunk
        )
