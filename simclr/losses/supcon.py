"""Supervised contrastive loss (Khosla et al. 2020), the L_out form of their Eq. 2.

"L_out = sum_i -1/|P(i)| sum_{p in P(i)} log exp(z_i . z_p / tau) / sum_{a in A(i)} exp(z_i . z_a / tau)":
P(i) are all other embeddings in the batch with the same label as i (the other views of the same image
included), A(i) all embeddings but i. The paper finds L_out (mean outside the log) better than L_in.
Same candidates and distributed behaviour as NT-Xent (`simclr.losses.pairs`); with unique labels per image it
is multi-view NT-Xent.
"""

import torch
from torch import Tensor, nn

from simclr.losses.nt_xent import multi_positive_cross_entropy_rows
from simclr.losses.pairs import check_anchor_chunk, check_views, gather_candidates, mean_over_anchors
from simclr.losses.pruning import NegativePruning
from simclr.losses.temperature import Temperature, check_temperature


def supcon(
    z: Tensor,
    labels: Tensor,
    temperature: float | Tensor = 0.1,
    gather_distributed: bool = True,
    pruning: NegativePruning | None = None,
    anchor_chunk: int | None = None,
) -> Tensor:
    """SupCon L_out, averaged over this rank's V N anchors.

    Args:
        z: (V, N, D) projections, z[v, i] is view v of image i; V >= 2.
        labels: (N,) integer class of each image (gathered from every rank under DDP).
        temperature: tau (the paper: 0.1).
        gather_distributed: under DDP, candidates and labels from every rank.
        pruning: drop a fraction of each anchor's negatives (other classes) from the denominator.
        anchor_chunk: score the anchors in blocks of this many rows (`simclr.losses.pairs.mean_over_anchors`).

    Returns:
        Scalar float32.
    """
    check_views(z, "supcon")
    if labels.shape != z.shape[1:2]:
        raise ValueError(f"supcon needs one label per image: labels {tuple(labels.shape)} for {z.shape[1]} images")
    if not isinstance(temperature, Tensor):
        check_temperature(temperature, "supcon")
    candidates = gather_candidates(z, labels, gather_distributed)
    return mean_over_anchors(
        lambda pairs: multi_positive_cross_entropy_rows(pairs, temperature, pruning), candidates, anchor_chunk
    )


class SupConLoss(nn.Module):
    """Module form of `supcon`: `loss(z_1, ..., z_V, labels=labels)` with the batch's labels.

    Works with every data module that yields (images, labels); an unlabelled set (STL-10's unlabeled
    split, label -1) would make all its images one class, so train SupCon on labelled splits.

    Args:
        temperature: tau (the initial tau if learnt); the paper uses 0.1.
        learnable_temperature: learn tau in log space, clamped at `min_temperature`.
        min_temperature: lower bound of a learnt tau (default 0.01); an error for a fixed tau.
        gather_distributed: under DDP, candidates and labels from every rank.
        pruning: drop a fraction of each anchor's negatives (`simclr.losses.pruning.NegativePruning`).
        anchor_chunk: score the anchors in blocks of this many rows, re-computed in the backward pass (memory for
            one block of the similarity matrix; see `simclr.losses.NTXentLoss`). None: the whole matrix.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        learnable_temperature: bool = False,
        min_temperature: float | None = None,
        gather_distributed: bool = True,
        pruning: NegativePruning | None = None,
        anchor_chunk: int | None = None,
    ):
        super().__init__()
        self.temperature = Temperature(temperature, learnable_temperature, min_temperature, name="SupConLoss")
        self.gather_distributed = gather_distributed
        self.pruning = pruning
        check_anchor_chunk(anchor_chunk, "SupConLoss")
        self.anchor_chunk = anchor_chunk

    def forward(self, *views: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            raise ValueError(
                "SupConLoss needs the batch's labels: call loss(z_1, z_2, labels=labels) (the SimCLR module passes them)"
            )
        z = torch.stack(views)  # (V, N, D)
        return supcon(z, labels, self.temperature(), self.gather_distributed, self.pruning, self.anchor_chunk)
