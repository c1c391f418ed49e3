"""Labelled subsets for semi-supervised evaluation: a seeded, class-balanced fraction of the training labels.

SimCLR (section 4, Table 7) fine-tunes on 1% and 10% of the ImageNet labels, "sampled in a class-balanced
way". Here every class keeps the same fraction of its images, drawn by a seeded per-class permutation:
the same seed gives the same subset, and a smaller fraction is a prefix of a larger one (1% is inside 10%).

A subset is saved as a JSON index file (`LabelSubset.save`) so other runs reuse exactly the same images;
`LabelSubset.read` refuses a file made for another dataset.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from simclr.data.datasets import collate_batch
from simclr.errors import UserError


def dataset_labels(dataset: Dataset, batch_size: int = 1024) -> Tensor:
    """int64 (N,) labels of a labelled dataset: its `labels` tensor when it holds one, else read batch by batch."""
    labels = getattr(dataset, "labels", None)
    if isinstance(labels, Tensor) and labels.shape == (len(dataset),):
        return labels.long()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_batch)
    return torch.cat([y.long() for _, y in loader])


def check_fraction(fraction: float) -> None:
    """A one-line UserError unless 0 < fraction <= 1."""
    if not 0 < fraction <= 1:
        raise UserError(
            f"--label_fraction {fraction} is outside (0, 1]; pass the fraction of training labels to use, "
            f"e.g. --label_fraction 0.01 for 1%"
        )


def balanced_subset(labels: Tensor, fraction: float, num_classes: int, seed: int = 0) -> Tensor:
    """Indices of a class-balanced subset: floor(fraction * n_c) images of each class c, drawn with `seed`.

    Args:
        labels: int64 (N,) class of each training image, in [0, num_classes).
        fraction: share of each class to keep, in (0, 1].
        num_classes: K; every class must keep at least one image.
        seed: seeds one permutation per class; the subset is its prefix, so subsets of one seed are nested.

    Returns:
        int64 (M,) sorted indices into `labels`, M = sum_c floor(fraction * n_c).
    """
    check_fraction(fraction)
    gen = torch.Generator().manual_seed(seed)
    labels = labels.long().cpu()
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()  # (n_c,)
        order = members[torch.randperm(len(members), generator=gen)]  # drawn for every class, kept or not
        keep = int(fraction * len(members) + 1e-9)  # floor, robust to 0.1 * 60 = 5.999...
        if keep < 1:
            raise UserError(
                f"--label_fraction {fraction} leaves class {c} ({len(members)} images) with no labelled image; "
                f"pass a larger --label_fraction (at least {1 / max(len(members), 1):.4g})"
            )
        chosen.append(order[:keep])
    return torch.cat(chosen).sort().values


@dataclass
class LabelSubset:
    """The index file of a labelled subset (JSON).

    Attributes:
        dataset: what the indices index, e.g. "FashionMNIST labelled train split (60000 images, 10 classes)".
        train_images: size of that split.
        seed: the seed `balanced_subset` drew with.
        label_fraction: the fraction of each class kept.
        indices: sorted positions in the labelled train split.
    """

    dataset: str
    train_images: int
    seed: int
    label_fraction: float
    indices: list[int] = field(default_factory=list)

    @classmethod
    def draw(cls, labels: Tensor, num_classes: int, fraction: float, seed: int, dataset: str) -> LabelSubset:
        """A new subset of the split whose labels (N,) are given, described as `dataset`."""
        indices = balanced_subset(labels, fraction, num_classes, seed)
        return cls(dataset, len(labels), seed, fraction, indices.tolist())

    def save(self, path: str | Path) -> Path:
        """Writes the JSON index file; returns its path."""
        path = Path(path)
        path.write_text(json.dumps(asdict(self)) + "\n")
        return path

    @classmethod
    def from_dict(cls, record: dict, where: str) -> LabelSubset:
        """The subset in a dict of the JSON layout; a one-line UserError naming `where` if it is not one."""
        try:
            subset = cls(**record)
        except TypeError as e:
            raise UserError(
                f"{where} is not a label subset file ({e}); pass a subset.json written by simclr finetune"
            ) from e
        if not all(isinstance(i, int) and 0 <= i < subset.train_images for i in subset.indices):
            raise UserError(f"{where} holds indices outside 0..{subset.train_images - 1}; pass an intact subset file")
        return subset

    @classmethod
    def read(cls, path: str | Path, dataset: str, train_images: int) -> LabelSubset:
        """The subset in a JSON index file, checked to belong to `dataset` with `train_images` images."""
        try:
            record = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            raise UserError(
                f"--subset {path} is not readable JSON ({e}); pass a subset.json written by simclr finetune"
            ) from e
        if not isinstance(record, dict):
            raise UserError(
                f"--subset {path} is not a label subset file; pass a subset.json written by simclr finetune"
            )
        subset = cls.from_dict(record, f"--subset {path}")
        if subset.dataset != dataset or subset.train_images != train_images:
            raise UserError(
                f"--subset {path} was drawn from {subset.dataset!r} ({subset.train_images} images), not this run's "
                f"{dataset!r} ({train_images} images); drop --subset to draw one, or pass a subset of this dataset"
            )
        return subset


def split_description(datamodule_name: str, train_images: int, num_classes: int) -> str:
    """How a subset file names the split it indexes, e.g. "FashionMNIST labelled train split (60000 images, 10 classes)"."""
    return f"{datamodule_name} labelled train split ({train_images} images, {num_classes} classes)"


class LabelsOnlyIn(Dataset):
    """`dataset` with every label outside `indices` replaced by -1 (unlabelled), for training on all images
    while only the labelled subset's labels are known.

    Args:
        dataset: (uint8 (C, H, W), label) items; batched `__getitems__` is used when present.
        indices: positions whose labels are kept.
    """

    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset = dataset
        self.known = torch.zeros(len(dataset), dtype=torch.bool)  # (N,)
        self.known[torch.as_tensor(indices, dtype=torch.long)] = True

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image, label = self.dataset[index]
        return image, torch.as_tensor(label).long() if self.known[index] else torch.tensor(-1)

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        """images uint8 (B, C, H, W), labels int64 (B,) with -1 outside the subset, in one gather."""
        if hasattr(self.dataset, "__getitems__"):
            images, labels = collate_batch(self.dataset.__getitems__(indices))
        else:
            images, labels = collate_batch([self.dataset[i] for i in indices])
        idx = torch.as_tensor(indices, dtype=torch.long)
        return images, torch.where(self.known[idx], labels.long(), -1)
