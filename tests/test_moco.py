"""MoCo v2: the EMA update, the key queue against a plain Python ring buffer, InfoNCE against a loop."""

import math

import pytest
import torch
from torch import nn

from augmentations.presets import simclr_fashion_mnist
from augmentations.views import MultiView
from simclr.errors import UserError
from simclr.losses.moco import info_nce_with_queue
from simclr.methods.moco import MoCo
from simclr.methods.momentum import cosine_momentum, ema_update_, momentum_copy
from simclr.models import ProjectionHead, ResNetEncoder


def tiny_moco(**kwargs) -> MoCo:
    torch.manual_seed(0)
    encoder = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1)
    return MoCo(
        encoder,
        MultiView(simclr_fashion_mnist(size=28)),
        head=lambda d: ProjectionHead(d, hidden_dim=16, out_dim=8),
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
        **{"queue_size": 12, **kwargs},
    )


def test_ema_update_is_exactly_m_target_plus_one_minus_m_online():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4))
    target = momentum_copy(online)
    for p in online.parameters():
        p.data.add_(torch.randn_like(p))
    before = [t.clone() for t in target.parameters()]
    ema_update_(target, online, 0.9)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        assert torch.equal(t, 0.9 * b + (1 - 0.9) * o)
        assert not t.requires_grad


def test_cosine_momentum_rises_from_base_to_one():
    assert cosine_momentum(0, 100, 0.99) == pytest.approx(0.99)
    assert cosine_momentum(50, 100, 0.99) == pytest.approx(1 - 0.01 * 0.5)
    assert cosine_momentum(100, 100, 0.99) == pytest.approx(1.0)
    k, total = 30, 100
    assert cosine_momentum(k, total, 0.9) == pytest.approx(1 - 0.1 * (math.cos(math.pi * k / total) + 1) / 2)


def test_queue_matches_a_python_ring_buffer_over_several_steps():
    model = tiny_moco()
    queue = model.queue
    reference = [row.clone() for row in queue.keys]  # K rows, oldest overwritten first
    ptr = 0
    gen = torch.Generator().manual_seed(1)
    for n in (5, 5, 4, 3, 5):  # 22 keys through a queue of 12: wraps around twice
        keys = torch.randn(n, 8, generator=gen)
        queue.push(keys)
        for row in keys:
            reference[ptr] = row
            ptr = (ptr + 1) % 12
        assert int(queue.ptr) == ptr
        assert torch.equal(queue.keys, torch.stack(reference))
    assert {"queue.keys", "queue.ptr"} <= set(model.state_dict())  # saved in checkpoints


def test_a_queue_smaller_than_a_batch_is_a_user_error():
    with pytest.raises(UserError, match="queue_size 12 is smaller than the 13 keys"):
        tiny_moco().queue.push(torch.randn(13, 8))


def test_info_nce_with_queue_equals_a_loop_over_queries():
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    queue = nn.functional.normalize(torch.randn(10, 8, generator=gen), dim=1)
    t = 0.2
    total = 0.0
    for i in range(6):
        qi = q[i] / q[i].norm()
        pos = torch.dot(qi, k[i] / k[i].norm()) / t
        negs = [torch.dot(qi, queue[j]) / t for j in range(10)]
        total += -(pos - torch.logsumexp(torch.stack([pos, *negs]), dim=0))
    assert torch.allclose(info_nce_with_queue(q, k, queue, t), total / 6, atol=1e-6)


def test_step_trains_the_queries_only_and_enqueues_the_keys():
    model = tiny_moco()
    views = [torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)]
    loss, h = model.step(views, None, "train")
    loss.backward()
    assert h.shape == (4, model.encoder.feature_dim) and torch.isfinite(loss)
    assert all(p.grad is None for p in model.key_encoder.parameters())
    assert all(p.grad is None for p in model.key_head.parameters())
    assert model.encoder.net.conv1.weight.grad is not None
    with torch.no_grad():
        keys = nn.functional.normalize(model.key_head(model.key_encoder(views[1])), dim=1)
    assert int(model.queue.ptr) == 4
    assert torch.allclose(model.queue.keys[:4], keys, atol=1e-5)
    model.step(views, None, "val")  # validation leaves the queue alone
    assert int(model.queue.ptr) == 4


def test_options_are_checked():
    with pytest.raises(UserError, match="momentum must be in"):
        tiny_moco(momentum=1.5)
    with pytest.raises(UserError, match="temperature must be > 0"):
        tiny_moco(temperature=0.0)
    with pytest.raises(UserError, match="MoCo takes 2 views"):
        tiny_moco().step([torch.randn(4, 1, 28, 28)] * 3, None, "train")
