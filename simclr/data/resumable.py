"""Exact mid-epoch resumption: a train DataLoader that continues the killed epoch, and the callback
that checkpoints it with the global RNG states.

The loader's state is the sampler's (seed, epoch) and the batches yielded in the current epoch; the
permutation is a function of (seed, epoch) alone, so the resumed epoch continues where the killed one
stopped. Skipping happens on batch indices, so no skipped image is loaded or decoded.

`simclr.safety.resume.ResumeCallback` saves and restores that state itself. Lightning 2.6 has the same hook (its fit loop
saves `state_dict()` of stateful train loaders) but never loads it back when `configure_optimizers`
reads `trainer.estimated_stepping_batches` (ours does, for the LR schedule): that builds the train
loader before the checkpoint is restored, and the fit loop then skips the step that loads the state.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler


class EpochRandomSampler(RandomSampler):
    """A random permutation per epoch that depends only on (seed, epoch), like DistributedSampler.

    Lightning calls `set_epoch` at each epoch start. It stays a RandomSampler, so under DDP Lightning
    still replaces it with a (seeded, per-epoch) DistributedSampler.

    Args:
        data_source: the dataset (its length is all that is used).
        seed: default `torch.initial_seed()`, the seed `seed_everything` set.
    """

    def __init__(self, data_source: Sized, seed: int | None = None):
        super().__init__(data_source)
        self.seed = torch.initial_seed() if seed is None else int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed((self.seed + self.epoch) % 2**64)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


class _SkipFirst:
    """The loader's batch sampler, with the first `loader._skip` batches of the next pass left out."""

    def __init__(self, batches: Iterable, loader: ResumableDataLoader):
        self.batches, self.loader = batches, loader

    def __len__(self) -> int:
        return len(self.batches)  # the full epoch: Lightning counts the skipped batches as done

    def __iter__(self) -> Iterator:
        skip, self.loader._skip = self.loader._skip, 0
        return itertools.islice(iter(self.batches), skip, None)


class ResumableDataLoader(DataLoader):
    """A DataLoader with `state_dict` / `load_state_dict` for mid-epoch resumption (arguments: DataLoader's).

    Use a sampler with `set_epoch` and a fixed seed (`EpochRandomSampler`) for a shuffled loader, so the
    permutation of the resumed epoch is the one the killed run used.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._skip = 0  # batches to leave out at the start of the next pass (set by load_state_dict)
        self._yielded = 0  # batches of the current epoch handed out so far, skipped ones included

    @property
    def _index_sampler(self):  # DataLoader reads this to iterate the batch indices
        return _SkipFirst(super()._index_sampler, self)

    def __iter__(self) -> Iterator:
        self._yielded = self._skip
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def _sampler_with_epoch(self) -> Any:
        sampler = self.sampler if hasattr(self.sampler, "set_epoch") else getattr(self.batch_sampler, "sampler", None)
        return sampler if hasattr(sampler, "set_epoch") else None

    def state_dict(self) -> dict[str, int | None]:
        sampler = self._sampler_with_epoch()
        return {
            "batches": self._yielded,
            "epoch": getattr(sampler, "epoch", None),
            "seed": getattr(sampler, "seed", None),
        }

    def load_state_dict(self, state: dict[str, int | None]) -> None:
        batches, epoch = int(state["batches"]), state.get("epoch")
        if batches >= len(self):  # saved at the end of an epoch: the next one starts from its first batch
            batches, epoch = 0, None if epoch is None else epoch + 1
        self._skip = batches
        sampler = self._sampler_with_epoch()
        if sampler is not None:
            if state.get("seed") is not None and hasattr(sampler, "seed"):
                sampler.seed = int(state["seed"])
            if epoch is not None:
                sampler.set_epoch(int(epoch))
