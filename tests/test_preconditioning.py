"""Whitening as an exact preconditioner of the linear probe: same objective, faster convergence."""

import pytest
import torch

from simclr.eval.linear_probe import ProbeRecipe, prepared_features, train_probe
from simclr.eval.whitening import whitening, whitening_shift


def correlated(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ill-conditioned features (n, 24): 6 latent factors mixed into 24 nearly collinear columns, plus a
    weak signal; labels (n,) in [0, 3) from a linear rule on the latent factors."""
    gen = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 6, generator=gen)
    mixing = torch.randn(6, 24, generator=torch.Generator().manual_seed(99))  # same columns for every split
    x = latent @ mixing + 0.01 * torch.randn(n, 24, generator=gen)
    y = (latent[:, :3] + 0.3 * torch.randn(n, 3, generator=gen)).argmax(1)
    return x, y


def test_whitening_gives_identity_covariance_and_maps_the_penalty_exactly():
    x, _ = correlated(4096, seed=0)
    x = (x - x.mean(0)).double()  # float64: the identity checks below are exact up to round-off
    projection, penalty = whitening(x, shift=1e-12)
    white = x @ projection  # (N, D)
    cov = white.T @ white / len(white)
    assert torch.allclose(cov, torch.eye(24, dtype=torch.float64), atol=1e-6)
    # The change of variables: W' on x @ P is W = W' P^T on x, and sum_j penalty_j ||W'[:, j]||^2 = ||W||^2.
    w_white = torch.randn(3, 24, dtype=torch.float64)
    w = w_white @ projection.T
    assert torch.allclose(x @ w.T, white @ w_white.T)
    assert (w_white.pow(2) * penalty).sum().item() == pytest.approx(w.pow(2).sum().item(), rel=1e-9)


def test_whitening_is_finite_on_directions_without_variance():
    x = torch.randn(8, 16)  # 8 samples in 16 dims: at least 8 null directions
    projection, penalty = whitening(x - x.mean(0), shift=whitening_shift(1e-4, x))
    assert torch.isfinite(projection).all() and torch.isfinite(penalty).all()
    assert penalty.max().item() == pytest.approx(1 / whitening_shift(1e-4, x), rel=1e-3)
    with pytest.raises(ValueError, match="shift must be > 0"):
        whitening(x, shift=0.0)


def spectrum_features(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (n, 96) whose covariance spectrum falls from 1 to 1e-4 in random directions (hard for
    plain L-BFGS, like a trained encoder's h); labels (n,) in [0, 4) that depend on every direction."""
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(96, 96, generator=torch.Generator().manual_seed(7)))
    scales = torch.logspace(0, -2, 96)  # standard deviations: variances 1 ... 1e-4
    latent = torch.randn(n, 96, generator=gen)
    rule = torch.randn(96, 4, generator=torch.Generator().manual_seed(8))
    y = (latent @ rule + 2.0 * torch.randn(n, 4, generator=gen)).argmax(1)
    return (latent * scales) @ basis.T, y


def test_whitened_probe_reaches_the_plain_optimum_in_far_fewer_iterations():
    x, y = spectrum_features(4000, seed=1)
    objectives = {}
    for whiten, iterations in ((False, 3000), (True, 50), (False, 50)):
        recipe = ProbeRecipe(max_iter=iterations, whiten=whiten)
        train_x, _, penalty = prepared_features(x, x[:1], recipe)
        probe = train_probe(train_x, y, 4, recipe, penalty)
        with torch.no_grad():
            objectives[(whiten, iterations)] = probe.objective(probe(train_x), y).item()
    optimum = objectives[(False, 3000)]
    # the same objective in other coordinates: whitened L-BFGS gets to its optimum in 50 iterations ...
    assert objectives[(True, 50)] == pytest.approx(optimum, rel=1e-4)
    # ... where plain L-BFGS is still well above it
    assert objectives[(False, 50)] > optimum * 1.01


def test_features_wider_than_whiten_max_dim_stay_plain():
    x = torch.randn(64, 40)
    train, test, penalty = prepared_features(x, x[:8], ProbeRecipe(whiten_max_dim=32))
    assert penalty is None and torch.allclose(train, (x - x.mean(0)) / x.std(0), atol=1e-6)
    _, _, penalty = prepared_features(x, x[:8], ProbeRecipe(whiten_max_dim=40))
    assert penalty is not None and penalty.shape == (40,)
