"""MoCo under DDP (2 processes, gloo): the queue receives the keys of both ranks, in rank order, and stays the
same on every rank; the key encoder runs on a batch shuffled across ranks (Shuffling BN)."""

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from simclr.methods.moco import MoCo
from simclr.methods.shuffle_bn import shuffle_across_ranks, unshuffle_across_ranks
from simclr.models import ProjectionHead

pytestmark = pytest.mark.slow  # several processes

WORLD, N_LOCAL = 2, 3


class TinyEncoder(nn.Sequential):
    feature_dim = 6

    def __init__(self):
        super().__init__(nn.Flatten(), nn.Linear(16, 6), nn.BatchNorm1d(6), nn.ReLU())


def views_of(rank: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(10 + rank)
    return [torch.randn(N_LOCAL, 1, 4, 4, generator=gen) for _ in range(2)]


def worker(rank: int, store_path: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", store=dist.FileStore(store_path, WORLD), rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)  # the same initial weights and queue on both ranks
        model = MoCo(TinyEncoder(), nn.Identity(), head=lambda d: ProjectionHead(d, 8, 5), queue_size=8, momentum=0.9)
        x = (
            torch.arange(N_LOCAL, dtype=torch.float32)[:, None] + 100 * rank
        )  # (N, 1) rows that say where they came from
        shuffled, unshuffle = shuffle_across_ranks(x, torch.Generator().manual_seed(rank))
        back = unshuffle_across_ranks(shuffled, unshuffle)
        views = views_of(rank)
        made = []  # the keys this rank's step computes (before the gather)
        keys_of = model.keys
        model.keys = lambda x_k: made.append(keys_of(x_k)) or made[-1]
        model.step(views, None, "train")
        model.step(views, None, "train")  # 12 keys through a queue of 8: wraps around
        unshuffled_keys = nn.functional.normalize(made[-1], dim=1)
        torch.save(
            {"queue": model.queue.keys, "ptr": model.queue.ptr, "shuffled": shuffled, "back": back, "x": x,
             "keys": unshuffled_keys},
            Path(out_dir) / f"rank{rank}.pt",
        )  # fmt: skip
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("moco_ddp")
    mp.start_processes(worker, args=(str(tmp / "store"), str(tmp)), nprocs=WORLD, join=True, start_method="fork")
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def test_the_queue_holds_the_keys_of_both_ranks_on_every_rank(results):
    assert torch.equal(results[0]["queue"], results[1]["queue"])
    assert all(int(r["ptr"]) == (2 * WORLD * N_LOCAL) % 8 for r in results)
    # the second step wrote rows 6, 7, 0, 1 (rank 0's keys) and 2, 3, 4 ... (rank 1's): rank order, wrapped
    queue = results[0]["queue"]
    second = torch.cat([queue[6:8], queue[0:4]])  # (2 N, D): rank 0 then rank 1
    assert not torch.allclose(second[:N_LOCAL], second[N_LOCAL:])  # two different ranks' keys
    for r in range(WORLD):  # rank r's rows are exactly the keys rank r computed in its second step
        assert torch.allclose(second[r * N_LOCAL : (r + 1) * N_LOCAL], results[r]["keys"], atol=1e-6)


def test_shuffle_bn_permutes_across_ranks_and_undoes_it(results):
    for r in results:
        assert torch.equal(r["back"], r["x"])
    mixed = torch.cat([r["shuffled"] for r in results]).flatten()
    original = torch.cat([r["x"] for r in results]).flatten()
    assert torch.equal(mixed.sort().values, original.sort().values)  # a permutation of the global batch
