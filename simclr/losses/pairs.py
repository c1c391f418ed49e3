"""Which pairs a contrastive loss sees: every local anchor against every rank's candidates.

Shared by NT-Xent, the sigmoid loss and supervised contrastive: they differ only in what they do with
the similarity matrix and the positive mask built here.

Layout: V views of N_local images on this rank (rank r of W). The candidates are the V * N_global
embeddings of all ranks (N_global = W * N_local), ordered view-major as `(view, global image)`; global
image index = r * N_local + i. That is exactly the order of a single-process run on the concatenated
batch, so each anchor's loss term is the same number in both runs.

Memory: the similarity matrix is (V N_local) x (V N_global), so it grows with the square of the batch. Every
loss here is a mean over anchors of a term that needs only the anchor's own row, so `mean_over_anchors` can
score the anchors in blocks of rows, each block re-computed in the backward pass (`torch.utils.checkpoint`):
the memory is then one block's rows, the value and the gradient those of the whole matrix.
"""

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

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


class Candidates(NamedTuple):
    """The embeddings behind `Pairs`, before any similarity is computed.

    anchors: (A, D) float32, rows (view, local image). candidates: (C, D) float32, columns (view, global image).
    own_col: (A,) long, each anchor's own column. anchor_ids: (A,) and cand_ids: (C,): what makes a positive
    (the image, or the label for supervised contrastive)."""

    anchors: Tensor
    candidates: Tensor
    own_col: Tensor
    anchor_ids: Tensor
    cand_ids: Tensor


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


def check_anchor_chunk(anchor_chunk: int | None, name: str) -> None:
    """A one-line UserError unless `anchor_chunk` is None or a positive number of rows."""
    if anchor_chunk is not None and anchor_chunk < 1:
        raise UserError(f"{name} anchor_chunk is {anchor_chunk}; pass rows per block (e.g. 1024), or null for none")


def gather_candidates(
    z: Tensor, labels: Tensor | None = None, gather_distributed: bool = True, normalize: bool = True
) -> Candidates:
    """Local anchors and (all ranks') candidates, normalised and gathered with gradient.

    Args:
        z: (V, N_local, D) projections; z[v, i] is view v of image i.
        labels: (N_local,) class labels: positives are every other embedding with the same label
            (supervised contrastive). None: positives are the other views of the same image.
        gather_distributed: under torch.distributed, candidates come from every rank (with gradient);
            False (or one process): candidates are this rank's embeddings only.
        normalize: l2-normalise z first, so similarities are cosines (the paper's choice); False scores raw
            dot products (the paper's Table 5 ablation "l2 norm: no").

    Returns:
        `Candidates` with A = V * N_local anchors and C = V * N_global candidates.
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
    local = torch.arange(n, device=z.device)
    views = torch.arange(v, device=z.device)
    own_col = (views[:, None] * n_global + first + local[None, :]).reshape(-1)  # (A,) column of each anchor itself
    if labels is None:
        anchor_ids, cand_ids = first + local, torch.arange(n_global, device=z.device)  # image identity
    else:
        anchor_ids = labels.to(z.device)
        cand_ids = all_gather_no_grad(anchor_ids) if gather else anchor_ids
    return Candidates(zn.reshape(v * n, -1), cand.reshape(v * n_global, -1), own_col, anchor_ids.repeat(v),
                      cand_ids.repeat(v))  # fmt: skip


def pairs_of_rows(c: Candidates, rows: slice = slice(None)) -> Pairs:
    """Similarities and masks of the anchors `rows` (a block of a anchors) against every candidate: (a, C)."""
    sim = c.anchors[rows] @ c.candidates.T  # (a, C)
    cols = torch.arange(c.candidates.shape[0], device=sim.device)
    self_mask = cols[None, :] == c.own_col[rows, None]  # (a, C)
    same = c.anchor_ids[rows, None] == c.cand_ids[None, :]  # (a, C)
    return Pairs(sim, self_mask, same & ~self_mask, ~same)


def contrastive_pairs(
    z: Tensor, labels: Tensor | None = None, gather_distributed: bool = True, normalize: bool = True
) -> Pairs:
    """Similarities and masks of local anchors against (all ranks') candidates: `gather_candidates` (same
    arguments), then `pairs_of_rows` of every anchor. Returns `Pairs` with A = V N_local rows, C = V N_global."""
    return pairs_of_rows(gather_candidates(z, labels, gather_distributed, normalize))


def mean_over_anchors(per_anchor: Callable[[Pairs], Tensor], c: Candidates, anchor_chunk: int | None = None) -> Tensor:
    """mean_i per_anchor(pairs)_i over all A anchors, in blocks of `anchor_chunk` rows.

    With blocks, each block's (a, C) similarities and masks live only while that block is scored, in the forward
    and again in the backward pass (non-reentrant checkpointing, which also replays the random state of random
    pruning), so the loss needs memory for one block, not for the A x C matrix, at the cost of computing the
    similarities twice. The value and the gradients are those of the whole matrix.

    Args:
        per_anchor: `Pairs` of a anchors -> (a,) float32, each anchor's loss term.
        c: the anchors and candidates (`gather_candidates`).
        anchor_chunk: rows per block; None (or >= A) scores the whole matrix at once.

    Returns:
        Scalar float32.
    """
    a = c.anchors.shape[0]
    if anchor_chunk is None or anchor_chunk >= a:
        return per_anchor(pairs_of_rows(c)).mean()

    def block_sum(start: int, stop: int) -> Tensor:
        return per_anchor(pairs_of_rows(c, slice(start, stop))).sum()

    total = sum(
        checkpoint(block_sum, start, min(start + anchor_chunk, a), use_reentrant=False)
        for start in range(0, a, anchor_chunk)
    )
    return total / a
