"""Alignment, uniformity, singular values and RankMe on matrices with known answers."""

import pytest
import torch

from simclr.eval.diagnostics import alignment, rankme, representation_diagnostics, singular_values, uniformity


def test_alignment_identical_and_antipodal():
    x = torch.randn(16, 5)
    assert alignment(x, 2 * x).item() == pytest.approx(0.0, abs=1e-6)  # same direction after normalising
    assert alignment(x, -x).item() == pytest.approx(4.0, abs=1e-5)
    assert alignment(x, -x, alpha=1).item() == pytest.approx(2.0, abs=1e-5)


def test_uniformity_identical_and_spread():
    assert uniformity(torch.ones(10, 4)).item() == pytest.approx(0.0, abs=1e-6)
    spread = torch.cat([torch.eye(8), -torch.eye(8)])  # 16 points, squared distances 2 or 4
    # pairs: 8 antipodal (d^2 = 4), 112 orthogonal (d^2 = 2)
    expected = torch.log((8 * torch.exp(torch.tensor(-8.0)) + 112 * torch.exp(torch.tensor(-4.0))) / 120)
    assert uniformity(spread).item() == pytest.approx(expected.item(), rel=1e-5)
    assert uniformity(torch.randn(5000, 3)).item() < -1.0  # subsampled to 4096 rows, still spread


def test_singular_values_match_svdvals_of_centred_matrix():
    x = torch.randn(30, 6) + 5
    s = singular_values(x)
    assert s.shape == (6,) and torch.all(s[:-1] >= s[1:])
    assert torch.allclose(s, torch.linalg.svdvals(x - x.mean(0)), atol=1e-4)


def test_rankme_of_known_ranks():
    u, v = torch.randn(40, 1), torch.randn(1, 10)
    assert rankme(u @ v).item() == pytest.approx(1.0, abs=1e-3)
    assert rankme(torch.eye(8)).item() == pytest.approx(8.0, rel=1e-4)
    q, _ = torch.linalg.qr(torch.randn(20, 20))
    rank3 = q[:, :3] @ torch.eye(3, 12)  # (20, 12) with three unit singular values
    assert rankme(rank3).item() == pytest.approx(3.0, rel=1e-4)
    assert 1.0 <= rankme(torch.randn(100, 16)).item() <= 16.0


def test_representation_diagnostics_is_plain_json():
    a, b, c = {"h": torch.randn(20, 4), "z": torch.randn(20, 3)}, {"h": torch.randn(20, 4)}, {"h": torch.randn(30, 4)}
    out = representation_diagnostics(a, b, c)
    assert list(out) == ["h"]
    assert all(isinstance(out["h"][k], float) for k in ("alignment", "uniformity", "rankme"))
    assert isinstance(out["h"]["spectrum"], list) and len(out["h"]["spectrum"]) == 4
    assert sum(out["h"]["spectrum"]) == pytest.approx(1.0, abs=1e-5)
