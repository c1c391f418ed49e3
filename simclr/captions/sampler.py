"""Which caption an image gets at a training step: a pure function of (seed, epoch, image), drawn in the workers.

`CaptionSampler` yields `Draw(index, seed, epoch)` for each position of a per-epoch permutation; the dataset
picks caption `draw_caption(draw, k)` of the image's k captions. The epoch travels with each index, so the
draw is the same with any number of DataLoader workers (persistent or not), in a run resumed mid-epoch
(`simclr.data.resumable` restores the sampler's seed and epoch), and on every DDP rank. It is a
`DistributedSampler` (one replica without a process group), so Lightning keeps it under DDP instead of
replacing it with one that yields bare indices; Lightning calls its `set_epoch`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import NamedTuple

import numpy as np
import torch.distributed as dist
from torch.utils.data import DistributedSampler

SEED_RANGE = 2**63  # torch.Generator seeds are 64-bit; seed + epoch must stay below 2**64


class Draw(NamedTuple):
    """One training item: the image's position, and the seed and epoch its caption is drawn with."""

    index: int
    seed: int
    epoch: int


def draw_caption(draw: Draw, count: int) -> int:
    """Which of an image's `count` captions `draw` picks: uniform, from a generator seeded by (seed, epoch, index)."""
    if count == 1:
        return 0
    return int(np.random.default_rng((draw.seed, draw.epoch, draw.index)).integers(count))


class CaptionSampler(DistributedSampler):
    """A permutation per (seed, epoch), split across DDP ranks, of `Draw`s (see the module docstring).

    Args:
        dataset: the training set (its length is all that is used).
        seed: the seed of the permutations and caption draws (the one `seed_everything` set).
    """

    def __init__(self, dataset: Sized, seed: int):
        grouped = dist.is_available() and dist.is_initialized()
        replicas, rank = (dist.get_world_size(), dist.get_rank()) if grouped else (1, 0)
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=True, seed=seed % SEED_RANGE)

    def __iter__(self) -> Iterator[Draw]:
        for index in super().__iter__():
            yield Draw(index, self.seed, self.epoch)
