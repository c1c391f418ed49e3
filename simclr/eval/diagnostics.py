"""Representation diagnostics as pure functions over feature matrices.

- Alignment and uniformity (Wang & Isola 2020, "Understanding Contrastive Representation Learning
  through Alignment and Uniformity on the Hypersphere", ICML), computed on L2-normalised features.
- RankMe (Garrido et al. 2023, "RankMe: Assessing the Downstream Performance of Pretrained
  Self-Supervised Representations by Their Rank", ICML): the effective rank of the embedding matrix.
- The singular-value spectrum of the centred features (dimensional collapse shows as a fast decay).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

UNIFORMITY_MAX_ROWS = 4096  # pdist is O(N^2) memory: 4096 rows give 8.4M pairs


def alignment(x: Tensor, y: Tensor, alpha: float = 2) -> Tensor:
    """Wang & Isola's L_align = E_{(x, y) ~ p_pos} ||f(x) - f(y)||_2^alpha on the unit sphere.

    Args:
        x: (N, D) features of one view; y: (N, D) features of the other view of the same N images.
        alpha: exponent (the paper's default 2).

    Returns:
        scalar in [0, 2^alpha]: 0 when paired features coincide, 4 (alpha = 2) when antipodal.
    """
    if x.shape != y.shape:
        raise ValueError(f"alignment needs paired features of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = F.normalize(x.float(), dim=1), F.normalize(y.float(), dim=1)
    return (x - y).norm(dim=1).pow(alpha).mean()


def subsample_rows(x: Tensor, max_rows: int) -> Tensor:
    """At most `max_rows` rows of x (N, D), evenly spaced (deterministic, so diagnostics are reproducible)."""
    if len(x) <= max_rows:
        return x
    return x[torch.linspace(0, len(x) - 1, max_rows, device=x.device).long()]


def uniformity(x: Tensor, t: float = 2, max_rows: int = UNIFORMITY_MAX_ROWS) -> Tensor:
    """Wang & Isola's L_uniform = log E_{i<j} exp(-t ||f(x_i) - f(x_j)||_2^2) on the unit sphere.

    Computed as logsumexp - log(#pairs), which is stable for large t. Lower is more uniform.

    Args:
        x: (N, D) features, N >= 2. If N > max_rows, `max_rows` evenly spaced rows are used.
        t: the Gaussian kernel's scale (the paper's default 2).
        max_rows: cap on rows, as pdist makes N(N-1)/2 distances.

    Returns:
        scalar <= 0: 0 when all points coincide, about -t * 2 = -4 (t = 2) when spread over a large sphere.
    """
    x = F.normalize(subsample_rows(x.float(), max_rows), dim=1)  # (n, D)
    if len(x) < 2:
        raise ValueError("uniformity needs at least 2 rows")
    sq_dist = torch.pdist(x, p=2).pow(2)  # (n(n-1)/2,) pairs i < j
    return torch.logsumexp(-t * sq_dist, dim=0) - torch.log(torch.tensor(float(len(sq_dist))))


def singular_values(x: Tensor, centre: bool = True) -> Tensor:
    """Singular values of the (centred) feature matrix, descending.

    Args:
        x: (N, D) features.
        centre: subtract the mean row first (the spectrum of the feature covariance, up to sqrt(N - 1)).

    Returns:
        (min(N, D),) float32, computed in float64.
    """
    x = x.double()
    if centre:
        x = x - x.mean(0, keepdim=True)
    return torch.linalg.svdvals(x).float()


def rankme(x: Tensor, eps: float = 1e-7, centre: bool = False) -> Tensor:
    """RankMe(Z) = exp(-sum_k p_k log p_k), p_k = sigma_k(Z) / ||sigma(Z)||_1 + eps (Garrido et al. eq. 1).

    As in the paper, the singular values are those of the embedding matrix itself (`centre=False`).

    Args:
        x: (N, D) features.
        eps: the paper's epsilon (1e-7), so log p_k is finite for zero singular values.
        centre: use the centred matrix instead.

    Returns:
        scalar effective rank in [1, min(N, D)] (up to eps): 1 for rank 1, r for r equal singular values.
    """
    s = singular_values(x, centre=centre).double()  # (min(N, D),)
    p = s / s.sum().clamp_min(torch.finfo(torch.float64).tiny) + eps  # (min(N, D),)
    return torch.exp(-(p * p.log()).sum()).float()


def representation_diagnostics(
    view1: dict[str, Tensor], view2: dict[str, Tensor], clean: dict[str, Tensor]
) -> dict[str, dict[str, float | list[float]]]:
    """Diagnostics of each representation present in all three dicts (in view1's key order).

    Args:
        view1: name -> (N, D) features of the first augmented view of N images.
        view2: name -> (N, D) features of the second augmented view of the same images.
        clean: name -> (M, D) features of un-augmented images.

    Returns:
        name -> {"alignment": float (view1 vs view2), "uniformity": float (view1), "rankme": float (clean),
        "spectrum": list of min(M, D) floats (singular values of clean, centred, normalised to sum 1)};
        plain Python numbers, JSON-serialisable.
    """
    out: dict[str, dict[str, float | list[float]]] = {}
    for name in view1:
        if name not in view2 or name not in clean:
            continue
        s = singular_values(clean[name])
        out[name] = {
            "alignment": float(alignment(view1[name], view2[name])),
            "uniformity": float(uniformity(view1[name])),
            "rankme": float(rankme(clean[name])),
            "spectrum": (s / s.sum().clamp_min(1e-12)).tolist(),
        }
    return out
