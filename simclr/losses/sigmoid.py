"""Sigmoid loss (SigLIP, Zhai et al. 2023) for two or more views of one modality.

Paper, Algorithm 1: "logits = dot(zimg, ztxt.T) * t + b; labels = 2 * eye(n) - ones(n);
l = -sum(log_sigmoid(labels * logits)) / n", with t = exp(t') learnt from t' = log 10 and b from -10.
Every pair is an independent binary problem: no softmax over the batch, so no normaliser couples the
pairs and the loss is defined the same way at any batch size.

Here the pairs are those of NT-Xent (`simclr.losses.pairs`): each of the V N embeddings is an anchor, the other
views of its image are positives (the "diagonal"), every other embedding of the (global) batch is a
negative, self-pairs are left out. The sum over an anchor's candidates is averaged over anchors, SigLIP's
1/n normalisation. Under DDP each rank scores its anchors against every rank's candidates (gathered with
gradient), so the mean over ranks equals the single-process loss, like NT-Xent.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.losses.pairs import Pairs, check_anchor_chunk, check_views, gather_candidates, mean_over_anchors
from simclr.losses.pruning import NegativePruning
from simclr.losses.temperature import Temperature, check_temperature


def sigmoid_loss_rows(
    pairs: Pairs, temperature: float | Tensor, bias: float | Tensor, pruning: NegativePruning | None = None
) -> Tensor:
    """-sum_k log sigmoid(y_ik (s_ik / tau + b)) over each anchor i's candidates k != i: (A,) float32."""
    sign = pairs.pos_mask.float() * 2 - 1  # (A, C): +1 positive, -1 negative
    keep = ~pairs.self_mask
    if pruning is not None and pruning.fraction > 0:
        keep = keep & ~pruning(pairs.sim, pairs.neg_mask)
    logits = pairs.sim / temperature + bias  # (A, C)
    per_pair = -F.logsigmoid(sign * logits)  # stable for large |logits|
    return torch.where(keep, per_pair, 0.0).sum(dim=1)


def sigmoid_loss(
    z: Tensor,
    temperature: float | Tensor = 0.1,
    bias: float | Tensor = -10.0,
    gather_distributed: bool = True,
    pruning: NegativePruning | None = None,
    anchor_chunk: int | None = None,
) -> Tensor:
    """Pairwise sigmoid loss: -sum_k log sigmoid(y_ik (s_ik / tau + b)), mean over anchors i.

    Args:
        z: (V, N, D) projections, z[v, i] is view v of image i; V >= 2, N >= 2 (over all ranks).
        temperature: tau = 1 / t (SigLIP's t = 10 is tau = 0.1).
        bias: b, the logit offset (SigLIP: -10, so that the many negatives start near zero loss).
        gather_distributed: under DDP, candidates from every rank.
        pruning: drop a fraction of each anchor's negatives from its sum.
        anchor_chunk: score the anchors in blocks of this many rows (`simclr.losses.pairs.mean_over_anchors`).

    Returns:
        Scalar float32.
    """
    check_views(z, "sigmoid_loss")
    if not isinstance(temperature, Tensor):
        check_temperature(temperature, "sigmoid_loss")
    candidates = gather_candidates(z, None, gather_distributed)
    return mean_over_anchors(
        lambda pairs: sigmoid_loss_rows(pairs, temperature, bias, pruning), candidates, anchor_chunk
    )


class SigmoidLoss(nn.Module):
    """Module form of `sigmoid_loss`: `loss(z_1, ..., z_V, labels=labels)`, labels ignored.

    Args:
        temperature: initial tau = 1 / t (SigLIP: t = 10).
        bias: initial b (SigLIP: -10).
        learnable: learn log t and b (SigLIP does); False keeps both fixed.
        min_temperature: lower clamp of the learnt tau (t <= 1 / min_temperature; default 0.01).
        gather_distributed: under DDP, candidates from every rank.
        pruning: drop a fraction of each anchor's negatives (`simclr.losses.pruning.NegativePruning`).
        anchor_chunk: score the anchors in blocks of this many rows, re-computed in the backward pass (memory for
            one block of the similarity matrix; see `simclr.losses.NTXentLoss`). None: the whole matrix.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        bias: float = -10.0,
        learnable: bool = True,
        min_temperature: float | None = None,
        gather_distributed: bool = True,
        pruning: NegativePruning | None = None,
        anchor_chunk: int | None = None,
    ):
        super().__init__()
        check_anchor_chunk(anchor_chunk, "SigmoidLoss")
        if not math.isfinite(bias):
            raise UserError(f"SigmoidLoss bias must be a finite number, got {bias}; SigLIP starts from -10")
        self.temperature = Temperature(temperature, learnable, min_temperature, name="SigmoidLoss")
        self.bias = nn.Parameter(torch.tensor(float(bias))) if learnable else bias
        self.gather_distributed = gather_distributed
        self.pruning = pruning
        self.anchor_chunk = anchor_chunk

    def forward(self, *views: Tensor, labels: Tensor | None = None) -> Tensor:
        z = torch.stack(views)  # (V, N, D)
        return sigmoid_loss(z, self.temperature(), self.bias, self.gather_distributed, self.pruning, self.anchor_chunk)
