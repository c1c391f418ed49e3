"""NT-Xent against a plain loop implementation of SimCLR Algorithm 1."""

import math
import sys

import pytest
import torch

from simclr.losses.nt_xent import NTXentLoss, contrastive_stats, nt_xent


def algorithm1_loop(z_a: torch.Tensor, z_b: torch.Tensor, tau: float, normalize: bool = True) -> torch.Tensor:
    """SimCLR Algorithm 1 written out with Python loops, in float64 (normalize=False: raw dot products)."""
    n = z_a.shape[0]
    z = [None] * (2 * n)
    for k in range(n):  # paper numbering: 2k-1 and 2k are the two views of image k
        z[2 * k] = z_a[k].double()
        z[2 * k + 1] = z_b[k].double()

    def s(i, j):
        return torch.dot(z[i], z[j]) / (z[i].norm() * z[j].norm() if normalize else 1.0)

    def loss(i, j):
        denom = sum(torch.exp(s(i, k) / tau) for k in range(2 * n) if k != i)
        return -torch.log(torch.exp(s(i, j) / tau) / denom)

    return sum(loss(2 * k, 2 * k + 1) + loss(2 * k + 1, 2 * k) for k in range(n)) / (2 * n)


@pytest.mark.parametrize("n", [2, 3, 8, 17])
@pytest.mark.parametrize("dim", [1, 4, 32])
@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_matches_algorithm1_loop(n, dim, tau):
    g = torch.Generator().manual_seed(n * 100 + dim)
    z_a, z_b = torch.randn(n, dim, generator=g), torch.randn(n, dim, generator=g)
    expected = algorithm1_loop(z_a, z_b, tau)
    assert nt_xent(z_a, z_b, tau).item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("n", [2, 5])
@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_without_l2_normalisation_matches_the_dot_product_loop(n, tau):
    g = torch.Generator().manual_seed(n)
    z_a, z_b = torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)
    expected = algorithm1_loop(z_a, z_b, tau, normalize=False)
    got = NTXentLoss(tau, normalize=False)(z_a, z_b)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)
    assert got.item() != pytest.approx(NTXentLoss(tau)(z_a, z_b).item(), rel=1e-3)  # the option is honoured


@pytest.mark.parametrize("n", [2, 5, 64])
def test_identical_embeddings_give_log_2n_minus_1(n):
    z = torch.ones(n, 8)
    assert nt_xent(z, z.clone(), 0.3).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)


def test_symmetric_in_views():
    z_a, z_b = torch.randn(10, 16), torch.randn(10, 16)
    assert torch.allclose(nt_xent(z_a, z_b, 0.2), nt_xent(z_b, z_a, 0.2), atol=1e-6)


def test_scale_invariant_embeddings():
    z_a, z_b = torch.randn(6, 8), torch.randn(6, 8)
    assert torch.allclose(nt_xent(z_a, z_b, 0.5), nt_xent(3 * z_a, 0.1 * z_b, 0.5), atol=1e-5)


def test_finite_at_small_temperature_with_large_logits():
    z_a = torch.randn(32, 16) * 1e4
    z_b = -z_a + torch.randn(32, 16)
    loss = nt_xent(z_a, z_b, 0.01)
    assert torch.isfinite(loss)
    expected = algorithm1_loop(z_a[:4], z_b[:4], 0.01)  # float64 loop still finite at 1/tau = 100
    assert nt_xent(z_a[:4], z_b[:4], 0.01).item() == pytest.approx(expected.item(), rel=1e-4)


def test_perfect_pairs_give_low_loss_and_top1():
    z = torch.eye(8) * 5
    assert nt_xent(z, z.clone(), 0.05).item() < 1e-3
    stats = contrastive_stats(z, z.clone())
    assert stats["top1"].item() == 1.0
    assert stats["pos_sim"].item() == pytest.approx(1.0)
    assert stats["neg_sim"].item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("rows", [2048, 3, 4])  # one block; blocks that do and do not divide 2N = 10
@pytest.mark.parametrize("seed", range(8))
def test_stats_against_loop(rows, seed, monkeypatch):
    monkeypatch.setattr(sys.modules["simclr.losses.nt_xent"], "STATS_ROWS", rows)
    g = torch.Generator().manual_seed(seed)
    z_a, z_b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    z = torch.nn.functional.normalize(torch.cat([z_a, z_b]), dim=1)
    n2 = 10
    pos, neg, hits = [], [], 0
    for i in range(n2):
        j = (i + 5) % n2
        others = [k for k in range(n2) if k != i]
        pos.append(z[i] @ z[j])
        neg += [z[i] @ z[k] for k in others if k != j]
        hits += int(max(others, key=lambda k: (z[i] @ z[k]).item()) == j)
    stats = contrastive_stats(z_a, z_b)
    assert stats["pos_sim"].item() == pytest.approx(torch.stack(pos).mean().item(), abs=1e-6)
    assert stats["neg_sim"].item() == pytest.approx(torch.stack(neg).mean().item(), abs=1e-6)
    assert stats["top1"].item() == pytest.approx(hits / n2)


def test_gradients_flow_to_both_views():
    z_a = torch.randn(6, 8, requires_grad=True)
    z_b = torch.randn(6, 8, requires_grad=True)
    nt_xent(z_a, z_b, 0.1).backward()
    for z in (z_a, z_b):
        assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_gradient_matches_loop():
    z_a = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    g_fast = torch.autograd.grad(nt_xent(z_a, z_b, 0.2), (z_a, z_b))
    g_loop = torch.autograd.grad(algorithm1_loop(z_a, z_b, 0.2), (z_a, z_b))
    for a, b in zip(g_fast, g_loop):
        assert torch.allclose(a.double(), b, atol=1e-5)


def test_bf16_inputs_computed_in_float32():
    z_a, z_b = torch.randn(8, 16), torch.randn(8, 16)
    loss = nt_xent(z_a.bfloat16(), z_b.bfloat16(), 0.1)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(nt_xent(z_a, z_b, 0.1).item(), rel=2e-2)


@pytest.mark.parametrize("tau", [0.0, -0.5, float("nan")])
def test_rejects_bad_temperature(tau):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        nt_xent(torch.randn(4, 3), torch.randn(4, 3), tau)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        NTXentLoss(tau)


def test_rejects_single_image_batch():
    with pytest.raises(ValueError, match="at least 2 images"):
        nt_xent(torch.randn(1, 3), torch.randn(1, 3), 0.5)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.randn(4, 3), torch.randn(5, 3), 0.5)


def test_module_equals_function():
    z_a, z_b = torch.randn(7, 4), torch.randn(7, 4)
    assert torch.equal(NTXentLoss(0.3)(z_a, z_b), nt_xent(z_a, z_b, 0.3))
