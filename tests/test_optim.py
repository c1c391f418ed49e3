import math

import pytest
import torch

from simclr.training.lars import LARS
from simclr.training.optim import warmup_cosine


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


def test_lars_multi_tensor_step_matches_per_parameter_formula():
    # The step runs on all parameters of a group at once; check it against the formula one tensor at a time.
    torch.manual_seed(0)
    weights = [
        torch.nn.Parameter(torch.randn(4, 3)),
        torch.nn.Parameter(torch.randn(5)),
        torch.nn.Parameter(torch.zeros(2, 2)),
    ]
    biases = [torch.nn.Parameter(torch.randn(3)), torch.nn.Parameter(torch.randn(2))]
    lr, momentum, wd, eta = 0.2, 0.9, 1e-2, 1e-3
    opt = LARS(
        [{"params": weights}, {"params": biases, "lars_exclude": True}],
        lr=lr,
        momentum=momentum,
        weight_decay=wd,
        eta=eta,
    )
    expected = [p.detach().clone() for p in weights + biases]
    bufs = [torch.zeros_like(p) for p in expected]
    for _ in range(3):
        grads = [torch.randn_like(p) for p in expected]
        grads[4] = None  # a parameter without a gradient is left alone
        for p, g in zip(weights + biases, grads):
            p.grad = g
        opt.step()
        for i, g in enumerate(grads):
            if g is None:
                continue
            d = g
            if i < len(weights):
                d = g + wd * expected[i]
                w_norm, d_norm = expected[i].norm(), d.norm()
                d = d * (eta * w_norm / d_norm if w_norm > 0 and d_norm > 0 else 1.0)
            bufs[i] = momentum * bufs[i] + lr * d
            expected[i] = expected[i] - bufs[i]
    for p, e in zip(weights + biases, expected):
        torch.testing.assert_close(p.detach(), e, atol=1e-6, rtol=1e-5)
