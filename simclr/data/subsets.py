"""Labelled subsets for semi-supervised evaluation: a seeded, class-balanced fraction of the training labels.

SimCLR (section 6, Table 7) fine-tunes on 1% and 10% of the ImageNet labels, "sampled in a class-balanced
way". Here every class keeps the same fraction of its images, drawn by a seeded per-class permutation:
the same seed gives the same subset, and a smaller fraction is a prefix of a larger one (1% is inside 10%).

A subset is saved as a JSON index file (`LabelSubset.save`) so other runs reuse exactly the same images;
`LabelSubset.read` refuses a file made for another dataset.
"""

from __future__ import annotations

import json
import math
from collections import Counter
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


SUBSET_FIX = "pass a subset_*.json written by simclr finetune, or drop --subset to draw one"


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
    def from_dict(cls, record: dict, where: str, num_classes: int | None = None, fix: str = SUBSET_FIX) -> LabelSubset:
        """The subset in a dict of the JSON layout; a one-line UserError naming `where`, the problem and `fix` if
        it is not one: a missing or extra field, a value of the wrong type (JSON true / false are no numbers
        here), a label fraction outside (0, 1], no indices, an index repeated or outside the split, or (with
        `num_classes`) a size no class-balanced subset of that fraction has."""
        try:
            subset = cls(**record)
        except TypeError as e:
            raise UserError(f"{where} is not a label subset file ({e}); {fix}") from e
        for name, kinds in (("dataset", str), ("train_images", int), ("seed", int), ("label_fraction", (int, float))):
            value = getattr(subset, name)
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise UserError(f"{where} has {name} {json.dumps(value)}, not a {_KIND[name]}; {fix}")
        if subset.train_images < 1:
            raise UserError(f"{where} has train_images {subset.train_images}; {fix}")
        if not 0 < subset.label_fraction <= 1:
            raise UserError(f"{where} claims label_fraction {subset.label_fraction}, outside (0, 1]; {fix}")
        if not isinstance(subset.indices, list) or not subset.indices:
            raise UserError(f"{where} holds no indices; {fix}")
        wrong = [i for i in subset.indices if not isinstance(i, int) or isinstance(i, bool)]
        if wrong:
            raise UserError(f"{where} holds the index {json.dumps(wrong[0])}, not a whole number; {fix}")
        outside = [i for i in subset.indices if not 0 <= i < subset.train_images]
        if outside:
            raise UserError(f"{where} holds the index {outside[0]}, outside 0..{subset.train_images - 1}; {fix}")
        repeated = [i for i, n in Counter(subset.indices).items() if n > 1]
        if repeated:
            raise UserError(f"{where} holds the index {repeated[0]} more than once; {fix}")
        if num_classes is not None:
            check_size(subset, num_classes, where, fix)
        return subset

    @classmethod
    def read(cls, path: str | Path, dataset: str, train_images: int, num_classes: int | None = None) -> LabelSubset:
        """The subset in a JSON index file, checked (`from_dict`) and checked to belong to `dataset` with
        `train_images` images (and `num_classes` classes, for its size)."""
        where = f"--subset {path}"
        try:
            text = Path(path).read_text()
            record = json.loads(text) if text.strip() else None
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            raise UserError(f"{where} is not readable JSON ({e}); {SUBSET_FIX}") from e
        if record is None:
            raise UserError(f"{where} is empty; {SUBSET_FIX}")
        if not isinstance(record, dict):
            raise UserError(f"{where} is not a label subset file; {SUBSET_FIX}")
        subset = cls.from_dict(record, where)
        if subset.dataset != dataset or subset.train_images != train_images:
            raise UserError(
                f"{where} was drawn from {subset.dataset!r} ({subset.train_images} images), not this run's "
                f"{dataset!r} ({train_images} images); drop --subset to draw one, or pass a subset of this dataset"
            )
        if num_classes is not None:
            check_size(subset, num_classes, where, SUBSET_FIX)
        return subset


_KIND = {"dataset": "string", "train_images": "whole number", "seed": "whole number", "label_fraction": "number"}


def size_range(label_fraction: float, train_images: int, num_classes: int) -> tuple[int, int]:
    """The fewest and most images a class-balanced subset (`balanced_subset`) of `label_fraction` of a split of
    `train_images` images in `num_classes` classes can hold: sum_c floor(f * n_c) lies in (f * N - K, f * N]."""
    most = int(label_fraction * train_images + num_classes * 1e-9)  # balanced_subset's floors are fuzzed by 1e-9
    return max(1, math.floor(label_fraction * train_images - num_classes) + 1), most


def check_size(subset: LabelSubset, num_classes: int, where: str, fix: str) -> None:
    """A one-line UserError when the subset's size does not fit the label fraction it claims."""
    low, high = size_range(subset.label_fraction, subset.train_images, num_classes)
    if not low <= len(subset.indices) <= high:
        claimed = len(subset.indices) / subset.train_images
        raise UserError(
            f"{where} holds {len(subset.indices)} indices, but a label_fraction {subset.label_fraction:g} subset of "
            f"{subset.train_images} images in {num_classes} classes holds {low}..{high} (its size says about "
            f"{claimed:.3g}); {fix}"
        )


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
