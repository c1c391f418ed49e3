"""Device-resident data: the whole uint8 set lives on the training device; the loader yields only indices.

For sets that fit in device memory (Fashion-MNIST 47 MB, CIFAR 150 MB, STL-10 at 96 px 2.9 GB as uint8)
the host never touches pixels during training: the DataLoader (main process, no workers) yields a
(B,) int64 index batch, Lightning moves those 4 KB to the device, and the batch is gathered there with one
`index_select`. The sampling (shuffle, drop_last, epoch seeding, distributed sharding) stays Lightning's
and torch's own `RandomSampler` / `DistributedSampler`, so runs stay reproducible and resumable.

Used by `simclr.data.base.ImageDataModule(device_resident=True)` through its `transfer_batch_to_device` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.data import Dataset

from simclr.data.datasets import ConcatImages, TensorImages
from simclr.errors import UserError


class NotInMemory(UserError, TypeError):
    """`device_resident` asked of a dataset that is not held in memory (a user's config choice, hence a
    UserError; a TypeError for callers that check the dataset's type)."""


class IndexBatch(NamedTuple):
    """What a device-resident loader yields: which images, and from which split."""

    indices: Tensor  # (B,) int64, positions in the split's dataset
    split: str  # the data module's split name ("train", "val")


class IndexDataset(Dataset):
    """Positions 0..n-1 of a split; a batch of positions is one `IndexBatch` (no per-sample collate).

    Args:
        length: n, the number of images in the split.
        split: the split name the batch carries, so the transfer hook knows which tensor to gather from.
    """

    def __init__(self, length: int, split: str):
        self.length, self.split = length, split

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> int:
        return index

    def __getitems__(self, indices: Sequence[int]) -> IndexBatch:
        return IndexBatch(torch.as_tensor(indices, dtype=torch.long), self.split)


def collate_indices(batch: IndexBatch) -> IndexBatch:
    """The batch is already whole (`IndexDataset.__getitems__`); module-level so it pickles."""
    return batch


def host_tensors(dataset: Dataset) -> tuple[list[Tensor], list[Tensor]]:
    """The in-memory uint8 image tensors and int64 label tensors behind a dataset, in index order.

    Args:
        dataset: a `TensorImages` or a `ConcatImages` of them.

    Returns:
        images: list of uint8 (N_i, C, H, W), labels: list of int64 (N_i,), concatenated they are the set.
    """
    if isinstance(dataset, TensorImages):
        return [dataset.images], [dataset.labels]
    if isinstance(dataset, ConcatImages):
        return [p.images for p in dataset.parts], [p.labels for p in dataset.parts]
    raise NotInMemory(
        f"device_resident needs an in-memory dataset (TensorImages or ConcatImages), got {type(dataset).__name__}; "
        "set data.init_args.device_resident: false for image folders (decoded in workers, pinned uint8 batches instead)"
    )


def to_device(dataset: Dataset, device: torch.device) -> tuple[Tensor, Tensor]:
    """Copies a whole in-memory set to `device` once; parts are concatenated there, not on the host.

    Returns:
        images uint8 (N, C, H, W) and labels int64 (N,), on `device`.
    """
    images, labels = host_tensors(dataset)
    images = [x.to(device) for x in images]
    labels = [y.to(device) for y in labels]
    if len(images) == 1:
        return images[0], labels[0]
    return torch.cat(images), torch.cat(labels)


class ResidentStore:
    """Per-split device copies, made on first use and reused for every later batch."""

    def __init__(self) -> None:
        self._tensors: dict[str, tuple[Tensor, Tensor]] = {}

    def gather(self, batch: IndexBatch, dataset: Dataset, device: torch.device) -> tuple[Tensor, Tensor]:
        """An index batch -> (images uint8 (B, C, H, W), labels int64 (B,)) gathered on `device`.

        The (B,) indices come from the host (pinned when CUDA is used), so the copy is asynchronous and
        the gather is one device kernel per tensor: no host sync.
        """
        held = self._tensors.get(batch.split)
        if held is None or held[0].device != device:
            held = self._tensors[batch.split] = to_device(dataset, device)
        images, labels = held
        idx = batch.indices.to(device, non_blocking=True)  # (B,)
        return images.index_select(0, idx), labels.index_select(0, idx)

    def clear(self) -> None:
        """Frees the device copies (e.g. at the end of fit)."""
        self._tensors.clear()
