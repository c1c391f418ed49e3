"""PCA whitening as an exact preconditioner for the L2-regularised linear probe.

Multinomial logistic regression on correlated features is ill-conditioned: the covariance eigenvalues
of a trained encoder's z-scored features span several orders of magnitude, and full-batch L-BFGS on
them needs hundreds of iterations. Solving in whitened coordinates with the penalty mapped back keeps
the *same* objective, hence the same optimum, and L-BFGS reaches it in tens of iterations
(`benchmarks/probe_convergence.py` measures both; figures in docs/probe.md).

Change of variables: with x' = x P and logits x' W'^T, the original weights are W = W' P^T, so
||W||^2 = sum_j penalty_j ||W'[:, j]||^2 with penalty = 1 / (lambda + shift) for P = U diag((lambda + shift)^-1/2).
The shift keeps P finite on directions the train split never varies in; any shift > 0 is exact.
"""

from __future__ import annotations

import torch
from torch import Tensor


def whitening_shift(weight_decay: float, x: Tensor) -> float:
    """Eigenvalue shift for `whitening`: 10 x weight_decay (floored at 1e-6 x the mean variance).

    With the cross-entropy's curvature ~ s * lambda (s ~ 0.1-0.2, the softmax variance) and the penalty's
    2 * weight_decay, the whitened Hessian is ~ (s * lambda + 2 * wd) / (lambda + shift): flat in lambda
    when shift = 2 * wd / s ~ 10 * wd, so no direction, used or unused by the data, converges slowly.

    Args:
        weight_decay: the probe's L2 coefficient.
        x: (N, D) centred features.
    """
    mean_variance = float(x.pow(2).mean())
    return max(10.0 * weight_decay, 1e-6 * mean_variance, 1e-12)


def whitening(x: Tensor, shift: float) -> tuple[Tensor, Tensor]:
    """PCA whitening of centred features.

    Args:
        x: (N, D) float features, already centred (e.g. z-scored with the train split's statistics).
        shift: added to every covariance eigenvalue before the inverse square root (> 0).

    Returns:
        (P (D, D) with x @ P whitened, penalty (D,) = 1 / (eigenvalue + shift)), both in x's dtype, so that a
        linear layer W' on x @ P with L2 sum_j penalty_j ||W'[:, j]||^2 is the layer W = W' P^T on x with L2
        ||W||^2. That identity holds for any orthonormal eigenvectors, so round-off in the eigenvalues (float32
        features) only weakens the preconditioning; it never changes the probe's objective.
    """
    if shift <= 0:
        raise ValueError(f"whitening shift must be > 0, got {shift}")
    gram = (x.T @ x).double() / len(x)  # (D, D): product in x's dtype (float32: fast), float64 eigensolver
    eigenvalues, eigenvectors = torch.linalg.eigh(gram)  # ascending (D,), columns (D, D)
    eigenvalues = eigenvalues.clamp_min(0.0) + shift  # round-off can make null directions slightly negative
    projection = eigenvectors * eigenvalues.rsqrt()  # (D, D): column j scaled by (lambda_j + shift)^-1/2
    return projection.to(x.dtype), eigenvalues.reciprocal().to(x.dtype)
