"""BYOL's loss (Grill et al. 2020, Eq. 2): "L = ||q_bar - z'_bar||^2 = 2 - 2 <q, z'> / (||q|| ||z'||)",
symmetrised by feeding each view to both networks; no negatives."""

import torch
import torch.nn.functional as F
from torch import Tensor


def normalized_mse(p: Tensor, z: Tensor) -> Tensor:
    """2 - 2 cos(p, z) per row, averaged: (N, D), (N, D) -> scalar; no gradient into `z` (the target)."""
    return (2.0 - 2.0 * F.cosine_similarity(p.float(), z.detach().float(), dim=1)).mean()


def byol_loss(p: Tensor, z_target: Tensor) -> Tensor:
    """Mean of `normalized_mse(p_i, z'_j)` over every pair of different views i != j with j a target view.

    With two views this is (L + L~) / 2, the paper's symmetric loss halved. With multi-crop every view's
    prediction is matched to the target projections of the global views (the target sees those only).

    Args:
        p: (V, N, D) online predictions q_theta(z_theta) of all V views.
        z_target: (G, N, D) target projections z'_xi of the first G <= V views (the global ones).

    Returns:
        Scalar float32.
    """
    losses = [normalized_mse(p[i], z_target[j]) for j in range(z_target.shape[0]) for i in range(p.shape[0]) if i != j]
    return torch.stack(losses).mean()
