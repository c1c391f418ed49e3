"""The losses' `anchor_chunk`: scoring the anchors in blocks of rows (re-computed in the backward pass) gives the
value and gradients of the whole similarity matrix, for NT-Xent (2 and 4 views), SupCon and the sigmoid loss,
with a learnt temperature and with deterministic pruning, at blocks that do and do not divide the anchors."""

import pytest
import torch

from simclr.errors import UserError
from simclr.losses import NegativePruning, NTXentLoss, SigmoidLoss, SupConLoss

N, D = 12, 6

LOSSES = {
    "nt_xent": lambda chunk: NTXentLoss(temperature=0.2, learnable_temperature=True, anchor_chunk=chunk),
    "nt_xent_pruned": lambda chunk: NTXentLoss(0.3, pruning=NegativePruning(0.5, "hardest"), anchor_chunk=chunk),
    "sigmoid": lambda chunk: SigmoidLoss(anchor_chunk=chunk),
    "sigmoid_pruned": lambda chunk: SigmoidLoss(pruning=NegativePruning(0.3, "easiest"), anchor_chunk=chunk),
    "supcon": lambda chunk: SupConLoss(temperature=0.2, learnable_temperature=True, anchor_chunk=chunk),
}


def value_and_grads(name: str, chunk: int | None, views: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    z = torch.randn(views, N, D, generator=g, dtype=torch.float64).requires_grad_()
    labels = torch.randint(0, 4, (N,), generator=g)
    loss_fn = LOSSES[name](chunk).double()
    loss = loss_fn(*z, labels=labels)
    loss.backward()
    return loss.detach(), [z.grad, *(p.grad for p in loss_fn.parameters())]


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("chunk", [1, 8, 12, 5])  # single rows; divides 2N = 24; divides it; does not
@pytest.mark.parametrize("views", [2, 4])
def test_blocks_of_anchors_equal_the_whole_matrix(name, chunk, views):
    full_loss, full_grads = value_and_grads(name, None, views)
    loss, grads = value_and_grads(name, chunk, views)
    torch.testing.assert_close(loss, full_loss, rtol=1e-6, atol=1e-6)  # the losses compute in float32
    assert len(grads) == len(full_grads)
    for grad, full in zip(grads, full_grads):
        torch.testing.assert_close(grad, full, rtol=1e-5, atol=1e-7)


def test_random_pruning_replays_its_draws_in_the_backward_pass(monkeypatch):
    """Random pruning draws per block; each block's backward recomputes it from the same random state, so the
    gradient equals that of the same blocks kept in one autograd graph (no recomputation)."""

    def run() -> torch.Tensor:
        z = torch.randn(2, N, D, generator=torch.Generator().manual_seed(5), requires_grad=True)
        loss_fn = NTXentLoss(0.3, pruning=NegativePruning(0.5, "random"), anchor_chunk=5)
        torch.manual_seed(0)
        loss_fn(*z).backward()
        torch.manual_seed(1)  # the backward must not depend on the random state after the forward
        return z.grad

    recomputed = run()
    monkeypatch.setattr("simclr.losses.pairs.checkpoint", lambda fn, *args, **kwargs: fn(*args))
    kept = run()
    torch.testing.assert_close(recomputed, kept, rtol=0, atol=0)


@pytest.mark.parametrize("make", [NTXentLoss, SigmoidLoss, SupConLoss])
def test_anchor_chunk_must_be_positive(make):
    with pytest.raises(UserError, match="anchor_chunk is 0"):
        make(anchor_chunk=0)
