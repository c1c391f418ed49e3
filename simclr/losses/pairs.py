"""Which pairs a contrastive loss sees: every local anchor against every rank's candidates.

Shared by NT-Xent, the sigmoid loss and supervised contrastive: they differ only in what they do with
the similarity matrix and the positive mask built here.

Layout: V views of N_local images on this rank (rank r of W). The candidates are the V * N_global
embeddings of all ranks (N_global = W * N_local), ordered view-major as `(view, global image)`; global
image index = r * N_local + i. That is exactly the order of a single-process run on the concatenated
batch, so each anchor's loss term is the same number in both runs. Memory: (V N_local) x (V N_global).
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from simclr.errors import UserError
from simclr.losses.gather import all_gather_no_grad, all_gather_with_grad, rank


class Pairs(NamedTuple):
    """sim: (A, C) float32 cosine similarities, A = V N_local anchors, C = V N_global candidates.
    self_mask: (A, C) bool, each anchor's own column. pos_mask: (A, C) bool, its positives (self excluded).
    neg_mask: (A, C) bool, everything else."""

    sim: Tensor
    self_mask: Tensor
    pos_mask: Tensor
    neg_mask: Tensor


def check_views(z: Tensor, name: str) -> None:
    """One clear error for inputs no contrastive loss can use: z must be (V >= 2, N, D)."""
    if z.dim() != 3:
        raise UserError(
            f"{name} needs views stacked as (V, N, D), got shape {tuple(z.shape)}; pass torch.stack([z_1, ..., z_V])"
        )
    if z.shape[0] < 2:
        raise UserError(
            f"{name} needs at least 2 views per image, got {z.shape[0]}; set n_views: 2 (or more) in the augment"
        )


def contrastive_pairs(
    z: Tensor, labels: Tensor | None = None, gather_distributed: bool = True, normalize: bool = True
) -> Pairs:
    """Similarities and masks of local anchors against (all ranks') candidates.

    Args:
        z: (V, N_local, D) projections; z[v, i] is view v of image i.
        labels: (N_local,) class labels: positives are every other embedding with the same label
            (supervised contrastive). None: positives are the other views of the same image.
        gather_distributed: under torch.distributed, candidates come from every rank (with gradient);
            False (or one process): candidates are this rank's embeddings only.
        normalize: l2-normalise z first, so similarities are cosines (the paper's choice); False scores raw
            dot products (the paper's Table 5 ablation "l2 norm: no").

    Returns:
        `Pairs` with A = V * N_local anchor rows and C = V * N_global candidate columns.
    """
    v, n, _ = z.shape
    zn = F.normalize(z.float(), dim=-1) if normalize else z.float()  # (V, N, D), float32 under bf16 autocast too
    gather = gather_distributed and torch.distributed.is_available() and torch.distributed.is_initialized()
    first = rank() * n if gather else 0  # global index of this rank's first image
    if gather:
        cand = all_gather_with_grad(zn.transpose(0, 1).contiguous()).transpose(0, 1)  # (V, N_global, D)
    else:
        cand = zn
    n_global = cand.shape[1]
    if n_global < 2:
        raise UserError(
            f"contrastive losses need a batch of at least 2 images (got N={n_global}): with one image there are no negatives; "
            "raise the batch size or keep drop_last=True"
        )
    anchors = zn.reshape(v * n, -1)  # (A, D), rows (view, local image)
    candidates = cand.reshape(v * n_global, -1)  # (C, D), columns (view, global image)
    sim = anchors @ candidates.T  # (A, C)

    local = torch.arange(n, device=z.device)
    views = torch.arange(v, device=z.device)
    own_col = (views[:, None] * n_global + first + local[None, :]).reshape(-1)  # (A,) column of each anchor itself
    cols = torch.arange(v * n_global, device=z.device)
    self_mask = cols[None, :] == own_col[:, None]  # (A, C)
    if labels is None:
        anchor_ids, cand_ids = first + local, torch.arange(n_global, device=z.device)  # image identity
    else:
        anchor_ids = labels.to(z.device)
        cand_ids = all_gather_no_grad(anchor_ids) if gather else anchor_ids
    same = anchor_ids.repeat(v)[:, None] == cand_ids.repeat(v)[None, :]  # (A, C)
    pos_mask = same & ~self_mask
    neg_mask = ~same
    return Pairs(sim, self_mask, pos_mask, neg_mask)
