"""DDP on the CPU (2 processes, gloo): losses and encoder gradients equal a single-process run on the
concatenated batch, also through the gradient cache (chunks of 2 of each rank's 5 images) and with the anchors
scored in blocks of rows; without the gather
(gather_distributed=False) they do not."""

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from simclr.losses import gather as distributed
from simclr.losses.nt_xent import multiview_nt_xent
from simclr.losses.pruning import NegativePruning
from simclr.losses.sigmoid import sigmoid_loss
from simclr.losses.supcon import supcon
from simclr.training.grad_cache import cached_embeddings

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

WORLD, N_LOCAL, IN_DIM = 2, 5, 12

# name -> (views, loss(z (V, N, D), labels (N,)))
CASES = {
    "nt_xent": (2, lambda z, y: multiview_nt_xent(z, 0.2)),
    "nt_xent_local_only": (2, lambda z, y: multiview_nt_xent(z, 0.2, gather_distributed=False)),
    "nt_xent_3_views": (3, lambda z, y: multiview_nt_xent(z, 0.3)),
    "nt_xent_prune_hardest": (2, lambda z, y: multiview_nt_xent(z, 0.2, pruning=NegativePruning(0.5, "hardest"))),
    "sigmoid": (2, lambda z, y: sigmoid_loss(z, 0.5, -2.0)),
    "sigmoid_local_only": (2, lambda z, y: sigmoid_loss(z, 0.5, -2.0, gather_distributed=False)),
    "supcon": (2, lambda z, y: supcon(z, y, 0.2)),
    # the same losses with the anchors scored in blocks of 3 rows (each rank: 10 anchors -> 3, 3, 3, 1)
    "nt_xent_anchor_blocks": (2, lambda z, y: multiview_nt_xent(z, 0.2, anchor_chunk=3)),
    "sigmoid_anchor_blocks": (2, lambda z, y: sigmoid_loss(z, 0.5, -2.0, anchor_chunk=3)),
    "supcon_anchor_blocks": (2, lambda z, y: supcon(z, y, 0.2, anchor_chunk=3)),
}


def make_model() -> nn.Module:
    """A tiny encoder + head without BatchNorm (whose per-rank statistics would differ by design)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN_DIM, 16), nn.Tanh(), nn.Linear(16, 8))


def global_batch(views: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(views)
    return torch.randn(views, WORLD * N_LOCAL, IN_DIM, generator=g), torch.randint(
        0, 3, (WORLD * N_LOCAL,), generator=g
    )


def run_case(model: nn.Module, name: str, first: int, n: int) -> dict:
    """Loss and encoder gradients of images [first, first + n) of the global batch."""
    views, loss_fn = CASES[name]
    x, y = global_batch(views)
    x, y = x[:, first : first + n], y[first : first + n]
    model.zero_grad()
    z = model(x.reshape(views * n, IN_DIM)).reshape(views, n, -1)
    loss = loss_fn(z, y)
    loss.backward()
    return {"loss": loss.detach(), "grads": [p.grad.clone() for p in model.parameters()]}


CACHED = ("nt_xent", "sigmoid", "supcon")  # through the gradient cache
CHUNK = 2  # images per chunk: 5 local images -> chunks of 2, 2, 1


class Cached(nn.Module):
    """`make_model()` whose embeddings of (V, n, IN_DIM) inputs go through the gradient cache."""

    def __init__(self):
        super().__init__()
        self.net = make_model()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views, n = x.shape[:2]

        def embed(images: slice) -> torch.Tensor:
            return self.net(x[:, images].reshape(-1, IN_DIM)).reshape(views, images.stop - images.start, -1)

        return cached_embeddings(embed, n, CHUNK, [self.net], torch.device("cpu"), dim=1)


def run_cached_case(model: nn.Module, name: str, first: int, n: int) -> dict:
    """`run_case` with the embeddings from the gradient cache."""
    views, loss_fn = CASES[name]
    x, y = global_batch(views)
    model.zero_grad()
    loss = loss_fn(model(x[:, first : first + n]), y[first : first + n])
    loss.backward()
    return {"loss": loss.detach(), "grads": [p.grad.clone() for p in model.parameters()]}


def worker(rank: int, store_path: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", store=dist.FileStore(store_path, WORLD), rank=rank, world_size=WORLD)
    try:
        assert distributed.world_size() == WORLD and distributed.rank() == rank
        ddp = nn.parallel.DistributedDataParallel(make_model())  # averages gradients over ranks
        results = {name: run_case(ddp, name, rank * N_LOCAL, N_LOCAL) for name in CASES}
        cached = nn.parallel.DistributedDataParallel(Cached())
        results |= {f"cached_{name}": run_cached_case(cached, name, rank * N_LOCAL, N_LOCAL) for name in CACHED}
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("ddp")
    # fork: the children reuse the imported torch (spawn would import it twice more, seconds on 2 cores)
    mp.start_processes(worker, args=(str(tmp / "store"), str(tmp)), nprocs=WORLD, join=True, start_method="fork")
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def single_process(name: str) -> dict:
    return run_case(make_model(), name, 0, WORLD * N_LOCAL)


def test_helpers_without_process_group():
    x = torch.randn(3, 4, requires_grad=True)
    assert distributed.world_size() == 1 and distributed.rank() == 0
    assert distributed.all_gather_with_grad(x) is x
    assert distributed.all_gather_no_grad(x) is x


@pytest.mark.parametrize("name", ["nt_xent", "nt_xent_3_views", "nt_xent_prune_hardest", "sigmoid", "supcon"])
def test_ddp_equals_single_process(ddp_results, name):
    ref = single_process(name)
    mean_loss = torch.stack([r[name]["loss"] for r in ddp_results]).mean()
    assert torch.allclose(mean_loss, ref["loss"], atol=1e-5), (mean_loss, ref["loss"])
    for rank_result in ddp_results:  # DDP leaves the same averaged gradient on every rank
        for got, want in zip(rank_result[name]["grads"], ref["grads"]):
            assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


@pytest.mark.parametrize("name", ["nt_xent_anchor_blocks", "sigmoid_anchor_blocks", "supcon_anchor_blocks"])
def test_blocks_of_anchors_under_ddp_equal_the_whole_matrix_in_one_process(ddp_results, name):
    ref = single_process(name.removesuffix("_anchor_blocks"))
    mean_loss = torch.stack([r[name]["loss"] for r in ddp_results]).mean()
    assert torch.allclose(mean_loss, ref["loss"], atol=1e-5), (mean_loss, ref["loss"])
    for rank_result in ddp_results:
        for got, want in zip(rank_result[name]["grads"], ref["grads"]):
            assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


@pytest.mark.parametrize("name", CACHED)
def test_the_gradient_cache_under_ddp_equals_single_process(ddp_results, name):
    ref = single_process(name)
    mean_loss = torch.stack([r[f"cached_{name}"]["loss"] for r in ddp_results]).mean()
    assert torch.allclose(mean_loss, ref["loss"], atol=1e-5), (mean_loss, ref["loss"])
    for rank_result in ddp_results:  # each rank's chunked backward, all-reduced once, is the full gradient
        for got, want in zip(rank_result[f"cached_{name}"]["grads"], ref["grads"]):
            assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


@pytest.mark.parametrize("name", ["nt_xent_local_only", "sigmoid_local_only"])
def test_without_gather_losses_and_gradients_differ(ddp_results, name):
    ref = single_process(name.removesuffix("_local_only"))
    mean_loss = torch.stack([r[name]["loss"] for r in ddp_results]).mean()
    assert (mean_loss - ref["loss"]).abs() > 1e-2  # fewer negatives per anchor: a different loss
    grad_gap = max((got - want).abs().max() for got, want in zip(ddp_results[0][name]["grads"], ref["grads"]))
    assert grad_gap > 1e-3
