import math

import pytest
import torch

from simclr.lars import LARS
from simclr.schedule import warmup_cosine


def test_warmup_then_cosine():
    total, warm = 100, 10
    lrs = [warmup_cosine(s, total, warm) for s in range(total + 5)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))  # rising during warmup
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5)  # half-way through the cosine
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[100] == pytest.approx(0.0, abs=1e-12) and lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_no_warmup():
    assert warmup_cosine(0, 10, 0) == pytest.approx(1.0)


def test_lars_step_matches_formula():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))  # ||w|| = 5
    w.grad = torch.tensor([0.0, 1.0])
    opt = LARS([w], lr=0.5, momentum=0.9, weight_decay=0.1, eta=0.01)
    opt.step()
    d = torch.tensor([0.3, 1.4])
    trust = 0.01 * 5 / d.norm()
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - 0.5 * trust * d, atol=1e-6)
    # second step uses momentum
    w_prev, buf = w.detach().clone(), 0.5 * trust * d
    w.grad = torch.tensor([0.0, 1.0])
    opt.step()
    d2 = w.grad + 0.1 * w_prev
    buf = 0.9 * buf + 0.5 * (0.01 * w_prev.norm() / d2.norm()) * d2
    assert torch.allclose(w.detach(), w_prev - buf, atol=1e-6)


def test_lars_excluded_group_is_plain_sgd():
    b = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    b.grad = torch.tensor([0.5, 0.5])
    LARS([{"params": [b], "lars_exclude": True}], lr=0.1, momentum=0.9, weight_decay=0.5).step()
    assert torch.allclose(b.detach(), torch.tensor([0.95, -2.05]))


def test_lars_zero_weights_use_unit_trust():
    w = torch.nn.Parameter(torch.zeros(3))
    w.grad = torch.ones(3)
    LARS([w], lr=0.1, momentum=0.0, weight_decay=0.0).step()
    assert torch.allclose(w.detach(), torch.full((3,), -0.1))


def test_lars_trains_a_small_model():
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = x @ torch.randn(5, 1)
    model = torch.nn.Linear(5, 1)
    opt = LARS(model.parameters(), lr=5.0, momentum=0.9, weight_decay=0.0, eta=0.02)
    first = None
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = first or loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert math.isfinite(loss.item()) and loss.item() < 0.05 * first


def test_lars_rejects_bad_arguments():
    with pytest.raises(ValueError, match="LARS got"):
        LARS([torch.nn.Parameter(torch.ones(1))], lr=-1)
