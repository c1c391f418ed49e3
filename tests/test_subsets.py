"""Labelled subsets: class-balanced, seeded, nested across fractions, saved and checked as index files."""

import pytest
import torch
from helpers.fakedata import fake_images, fake_labels, write_fashion_mnist

from simclr.data.datamodules import FashionMNIST
from simclr.data.datasets import TensorImages
from simclr.data.subsets import (
    LabelsOnlyIn,
    LabelSubset,
    balanced_subset,
    dataset_labels,
    size_range,
    split_description,
)
from simclr.errors import UserError


def test_every_class_keeps_the_same_fraction():
    labels = fake_labels(1000, 10)[torch.randperm(1000, generator=torch.Generator().manual_seed(0))]
    indices = balanced_subset(labels, 0.05, 10, seed=1)
    assert torch.equal(torch.bincount(labels[indices], minlength=10), torch.full((10,), 5))
    assert len(set(indices.tolist())) == len(indices) and torch.equal(indices, indices.sort().values)


def test_same_seed_same_subset_other_seed_another_and_fractions_nest():
    labels = fake_labels(600, 10)
    small, again = balanced_subset(labels, 0.1, 10, seed=3), balanced_subset(labels, 0.1, 10, seed=3)
    assert torch.equal(small, again)
    assert not torch.equal(small, balanced_subset(labels, 0.1, 10, seed=4))
    large = balanced_subset(labels, 0.5, 10, seed=3)
    assert set(small.tolist()) <= set(large.tolist())
    assert torch.equal(balanced_subset(labels, 1.0, 10, seed=3), torch.arange(600))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(UserError, match="outside \\(0, 1\\]"):
        balanced_subset(fake_labels(100, 10), fraction, 10)


def test_too_small_a_fraction_for_one_image_per_class_is_refused():
    with pytest.raises(UserError, match="no labelled image"):
        balanced_subset(fake_labels(100, 10), 0.05, 10)


def test_subset_indexes_the_train_split_never_the_test_split(tmp_path):
    data = FashionMNIST(root=str(write_fashion_mnist(tmp_path / "fm")), batch_size=8)
    train, test = data.labelled_dataset("train"), data.labelled_dataset("test")
    indices = balanced_subset(dataset_labels(train), 0.5, 10, seed=0)
    assert int(indices.max()) < len(train)
    chosen = train.images[indices].flatten(1)  # (M, 784)
    assert not (chosen[:, None] == test.images.flatten(1)[None]).all(-1).any()  # no test image among them


def test_index_file_round_trip_and_foreign_dataset(tmp_path):
    labels = fake_labels(64, 10)
    description = split_description("FashionMNIST", 64, 10)
    subset = LabelSubset.draw(labels, 10, 0.5, 7, description)
    path = subset.save(tmp_path / "subset.json")
    assert LabelSubset.read(path, description, 64) == subset
    with pytest.raises(UserError, match="was drawn from"):
        LabelSubset.read(path, split_description("CIFAR10", 50000, 10), 50000)


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.25, 0.37, 0.5, 0.9, 1.0])
def test_every_drawn_subset_has_a_size_its_fraction_allows(fraction):
    labels = torch.randint(0, 10, (1000,), generator=torch.Generator().manual_seed(0))  # unequal classes
    low, high = size_range(fraction, 1000, 10)
    assert low <= len(balanced_subset(labels, fraction, 10, seed=2)) <= high and high - low < 10


def test_a_subset_whose_size_its_fraction_cannot_give_is_refused(tmp_path):
    description = split_description("FashionMNIST", 64, 10)
    subset = LabelSubset.draw(fake_labels(64, 10), 10, 0.5, 7, description)
    assert LabelSubset.from_dict(subset.__dict__, "subset.json", num_classes=10) == subset
    with pytest.raises(UserError, match="subset.json holds 10 indices, but a label_fraction 0.5 subset"):
        LabelSubset.from_dict({**subset.__dict__, "indices": subset.indices[:10]}, "subset.json", num_classes=10)


def test_labels_outside_the_subset_read_as_unlabelled():
    dataset = TensorImages(fake_images(6, (1, 4, 4), 0), torch.arange(6))
    masked = LabelsOnlyIn(dataset, [1, 4])
    images, labels = masked.__getitems__([0, 1, 4, 5])
    assert torch.equal(labels, torch.tensor([-1, 1, 4, -1])) and torch.equal(images, dataset.images[[0, 1, 4, 5]])
    assert int(masked[4][1]) == 4 and int(masked[0][1]) == -1
