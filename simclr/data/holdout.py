"""A deterministic, class-stratified held-out split: the test set of an image folder that has no other.

Pure function of (labels, fraction, seed): the same folder listing gives the same split on every
machine and in every process (train, probe), so train and test never share an image.
"""

from __future__ import annotations

import torch
from torch import Tensor

from simclr.errors import UserError


def held_out_count(n: int, fraction: float) -> int:
    """Images of a class of `n` held out: round(fraction * n) (Python's round), at least 1, at most n - 1."""
    return min(max(1, round(fraction * n)), n - 1)


def stratified_holdout(labels: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Splits positions 0..N-1 into kept and held out, `held_out_count(n_c, fraction)` per class c.

    Classes are visited in increasing order, each drawing a permutation of its positions from one
    generator seeded with `seed`.

    Args:
        labels: int64 (N,) class of each image; every class present must have at least 2 images.
        fraction: share of each class to hold out, 0 < fraction < 1.
        seed: seed of the draw (a fixed seed, not the training seed: the split must not change between runs).

    Returns:
        kept int64 (N - M,) and held int64 (M,), sorted positions; disjoint, together 0..N-1.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    gen = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, return_counts=True)  # sorted classes, (K,) each
    if len(labels) and counts.min() < 2:
        c = int(classes[counts.argmin()])
        raise ValueError(f"class {c} has {int(counts.min())} image; a held-out split needs at least 2 per class")
    by_class = torch.argsort(labels, stable=True).split(counts.tolist())  # positions of each class, ascending
    mask = torch.zeros(len(labels), dtype=torch.bool)  # (N,) True where held out
    for positions in by_class:
        order = torch.randperm(len(positions), generator=gen)  # (n_c,)
        mask[positions[order[: held_out_count(len(positions), fraction)]]] = True
    return torch.nonzero(~mask).flatten(), torch.nonzero(mask).flatten()


def check_val_options(val_root: str | None, val_fraction: float | None) -> None:
    """One-line UserError for `val_root` together with `val_fraction`, or a fraction outside (0, 1)."""
    if val_root is not None and val_fraction is not None:
        raise UserError(
            f"both data.init_args.val_root ({val_root}) and data.init_args.val_fraction ({val_fraction}) are set; "
            f"pass only one: val_root for a separate validation folder, val_fraction to hold out train images"
        )
    if val_fraction is not None and not 0 < val_fraction < 1:
        raise UserError(
            f"data.init_args.val_fraction is {val_fraction}, but it is the share of each class held out for "
            f"testing; set --data.init_args.val_fraction between 0 and 1 (e.g. 0.1)"
        )
