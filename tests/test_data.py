"""Tests for simclr/datasets.py readers and simclr/data.py data modules, on fake data in real formats."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.fakedata import (
    SEEDS,
    fake_images,
    fake_labels,
    write_cifar10,
    write_cifar100,
    write_fashion_mnist,
    write_image_folder,
    write_stl10,
)
from torch.utils.data import DataLoader

from simclr.data import datamodules as data
from simclr.data.datasets import ConcatImages, ImageFolderDataset, TensorImages, collate_batch
from simclr.data.decode import frame
from simclr.data.readers import read_cifar, read_fashion_mnist, read_stl10

# `make test` prepares the data (Debian package, or torchvision's download into data/) and says where.
REAL_FASHION_MNIST = Path(os.environ.get("SIMCLR_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))


def check_batch(images: torch.Tensor, labels: torch.Tensor, shape: tuple[int, ...]) -> None:
    assert images.dtype == torch.uint8 and tuple(images.shape) == shape
    assert labels.dtype == torch.int64 and tuple(labels.shape) == (shape[0],)


# --- readers: exact round trips ----------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_read_fashion_mnist_round_trip(tmp_path, gz, layout):
    folder = tmp_path / "FashionMNIST" / "raw" if layout == "torchvision" else tmp_path
    write_fashion_mnist(folder, n_train=20, n_test=12, gz=gz)
    for train, n, split in ((True, 20, "train"), (False, 12, "test")):
        images, labels = read_fashion_mnist(tmp_path, train=train)
        check_batch(images, labels, (n, 1, 28, 28))
        assert torch.equal(images[:, 0], fake_images(n, (28, 28), SEEDS[split]))
        assert torch.equal(labels, fake_labels(n, 10))


def test_read_fashion_mnist_bad_header(tmp_path):
    write_fashion_mnist(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[2] = 0x0D  # float type code: not ours
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ValueError, match="idx"):
        read_fashion_mnist(tmp_path, train=True)
    raw[2] = 0x08
    path.write_bytes(gzip.compress(bytes(raw[:-5])))  # truncated pixels
    with pytest.raises(ValueError, match="header says"):
        read_fashion_mnist(tmp_path, train=True)


@pytest.mark.skipif(
    not REAL_FASHION_MNIST.is_dir(), reason="real Fashion-MNIST absent (run through `make test`, which installs it)"
)
def test_read_real_fashion_mnist():
    for train, n in ((True, 60000), (False, 10000)):
        images, labels = read_fashion_mnist(REAL_FASHION_MNIST, train=train)
        check_batch(images, labels, (n, 1, 28, 28))
        assert labels.min() == 0 and labels.max() == 9
        assert torch.equal(labels.bincount(), torch.full((10,), n // 10))
        assert 0 < images.float().mean() < 255


@pytest.mark.parametrize("classes,writer", [(10, write_cifar10), (100, write_cifar100)])
def test_read_cifar_round_trip(tmp_path, classes, writer):
    root = writer(tmp_path, n_train=23, n_test=7)  # 23 splits unevenly over CIFAR-10's 5 batches
    sub = "cifar-10-batches-py" if classes == 10 else "cifar-100-python"
    for where in (root, root / sub):  # the parent folder or the extracted folder itself
        for train, n, split in ((True, 23, "train"), (False, 7, "test")):
            images, labels = read_cifar(where, train=train, classes=classes)
            check_batch(images, labels, (n, 3, 32, 32))
            assert torch.equal(images, fake_images(n, (3, 32, 32), SEEDS[split]))
            assert torch.equal(labels, fake_labels(n, classes))


def test_read_stl10_round_trip(tmp_path):
    root = write_stl10(tmp_path, n_train=6, n_test=4, n_unlabeled=5)
    for split, n in (("train", 6), ("test", 4), ("unlabeled", 5)):
        images, labels = read_stl10(root, split)
        check_batch(images, labels, (n, 3, 96, 96))
        assert torch.equal(images, fake_images(n, (3, 96, 96), SEEDS[split]))
        expected = torch.full((n,), -1) if split == "unlabeled" else fake_labels(n, 10)
        assert torch.equal(labels, expected)


def test_read_stl10_is_column_major(tmp_path):
    """Independent of the fake writer: on disk, each channel is 96 columns of 96 pixels (y inner)."""
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    column = np.arange(96, dtype=np.uint8)  # pixel value = row y
    np.tile(column, 3 * 96).tofile(folder / "unlabeled_X.bin")
    images, _ = read_stl10(tmp_path, "unlabeled")
    rows = torch.arange(96, dtype=torch.uint8)[:, None].expand(96, 96)  # (H, W), value = y
    assert torch.equal(images[0], rows.expand(3, 96, 96))


def test_image_folder_dataset(tmp_path):
    root = write_image_folder(tmp_path / "train", classes=("cat", "ant"), n_per_class=3, size=(40, 30))
    (root / "ant" / "notes.txt").write_text("not an image")
    ds = ImageFolderDataset(root, image_size=16)
    assert ds.classes == ["ant", "cat"] and len(ds) == 6
    for i, (image, label) in enumerate(ds):
        class_index, k = divmod(i, 3)
        written = fake_images(3, (3, 40, 30), seed=("cat", "ant").index(ds.classes[class_index]))[k]
        expected = frame(written, 16)  # 40 x 30 is 4:3, kept whole and resized to 16 x 16
        assert label == class_index and image.dtype == torch.uint8
        assert torch.equal(image, expected)  # PNG is lossless: decode + frame only
    images, labels = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_batch)))
    check_batch(images, labels, (4, 3, 16, 16))


def test_image_folder_bad_file_names_the_file(tmp_path):
    root = write_image_folder(tmp_path, n_per_class=1)
    bad = root / "a" / "broken.png"
    bad.write_bytes(b"definitely not a png")
    ds = ImageFolderDataset(root, image_size=8)
    with pytest.raises(ValueError, match="broken.png"):
        [ds[i] for i in range(len(ds))]


# --- missing data: one line naming the path ----------------------------------------------------


@pytest.mark.parametrize(
    "read",
    [
        lambda root: read_fashion_mnist(root, train=True),
        lambda root: read_cifar(root, train=True, classes=10),
        lambda root: read_cifar(root, train=False, classes=100),
        lambda root: read_stl10(root, "unlabeled"),
        lambda root: ImageFolderDataset(root),
    ],
    ids=["fashion_mnist", "cifar10", "cifar100", "stl10", "image_folder"],
)
def test_missing_data_error(tmp_path, read):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        read(root)
    message = str(info.value)
    assert str(root) in message and "\n" not in message


def test_empty_image_folder_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=f"no images in {tmp_path}") as info:
        ImageFolderDataset(tmp_path)
    assert "\n" not in str(info.value)


# --- batching --------------------------------------------------------------------------------


class NoPerSampleFetch(TensorImages):
    def __getitem__(self, index):
        raise AssertionError("DataLoader should fetch whole batches through __getitems__")


def test_dataloader_uses_getitems():
    images, labels = fake_images(10, (1, 4, 4), seed=0), fake_labels(10, 3)
    loader = DataLoader(NoPerSampleFetch(images, labels), batch_size=4, collate_fn=collate_batch)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[0] for b in batches]), images)
    assert torch.equal(torch.cat([b[1] for b in batches]), labels)


def test_concat_images_keeps_order():
    a = TensorImages(fake_images(5, (3, 2, 2), seed=0), torch.full((5,), -1))
    b = TensorImages(fake_images(3, (3, 2, 2), seed=1), fake_labels(3, 10))
    ds = ConcatImages([a, b])
    all_images, all_labels = torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels])
    order = [7, 0, 5, 4, 5, 2]
    images, labels = ds.__getitems__(order)
    assert len(ds) == 8 and torch.equal(images, all_images[order]) and torch.equal(labels, all_labels[order])
    assert torch.equal(ds[6][0], all_images[6])
    with pytest.raises(IndexError):
        ds.__getitems__([8])


def test_collate_batch_stacks_pairs():
    pairs = [(torch.zeros(1, 2, 2, dtype=torch.uint8), 3), (torch.ones(1, 2, 2, dtype=torch.uint8), torch.tensor(1))]
    images, labels = collate_batch(pairs)
    check_batch(images, labels, (2, 1, 2, 2))
    assert labels.tolist() == [3, 1]


# --- data modules ----------------------------------------------------------------------------


def make_module(name: str, tmp_path: Path, **kwargs) -> data.ImageDataModule:
    if name == "fashion_mnist":
        return data.FashionMNIST(str(write_fashion_mnist(tmp_path, n_train=20, n_test=12)), **kwargs)
    if name == "cifar10":
        return data.CIFAR10(str(write_cifar10(tmp_path, n_train=20, n_test=12)), **kwargs)
    if name == "cifar100":
        return data.CIFAR100(str(write_cifar100(tmp_path, n_train=20, n_test=12)), **kwargs)
    if name == "stl10":
        return data.STL10(str(write_stl10(tmp_path, n_train=8, n_test=12, n_unlabeled=12)), **kwargs)
    write_image_folder(tmp_path / "val", n_per_class=6, size=(20, 24))
    return data.ImageFolder(str(write_image_folder(tmp_path / "train", n_per_class=10)), image_size=16, **kwargs)


@pytest.mark.parametrize("name", ["fashion_mnist", "cifar10", "cifar100", "stl10", "image_folder"])
def test_data_module_loaders(tmp_path, name):
    dm = make_module(name, tmp_path, batch_size=8, val_batch_size=5)
    dm.setup("fit")
    shape = (dm.channels, dm.image_size, dm.image_size)
    train = list(dm.train_dataloader())
    assert len(train) == 2  # 20 images, batch 8: the short last batch of 4 is dropped
    for images, labels in train:
        check_batch(images, labels, (8, *shape))
    val = list(dm.val_dataloader())
    assert [len(labels) for _, labels in val] == [5, 5, 2]  # 12 test images, kept in order
    val_labels = torch.cat([labels for _, labels in val])
    assert val_labels.min() >= 0 and val_labels.max() < dm.num_classes
    check_batch(*val[-1], (2, *shape))
    assert len(dm.labelled_dataset("test")) == 12


def test_stl10_splits(tmp_path):
    dm = make_module("stl10", tmp_path)
    dm.setup("fit")
    assert len(dm.dataset("train")) == 20  # unlabeled 12 + train 8
    assert len(dm.labelled_dataset("train")) == 8 and (dm.labelled_dataset("train").labels >= 0).all()
    assert len(data.STL10(dm.root, unlabeled=False).dataset("train")) == 8


def test_image_folder_module(tmp_path):
    dm = make_module("image_folder", tmp_path)
    assert dm.num_classes == 2 and dm.resolved_val_root() == (tmp_path / "val").absolute()
    alone = data.ImageFolder(str(write_image_folder(tmp_path / "solo" / "imgs")))
    assert alone.resolved_val_root() == Path(alone.root)  # no sibling val folder: the train folder


def test_missing_data_raises_at_setup(tmp_path):
    dm = data.CIFAR10(root=str(tmp_path / "absent"))  # constructing is fine
    with pytest.raises(FileNotFoundError, match="cifar.html"):
        dm.setup("fit")


def test_train_loader_rejects_batch_larger_than_dataset(tmp_path):
    dm = make_module("cifar10", tmp_path, batch_size=64)
    with pytest.raises(ValueError, match="batch_size 64"):
        dm.train_dataloader()


def test_workers(tmp_path):
    dm = make_module("fashion_mnist", tmp_path, batch_size=4, num_workers=2)
    dm.setup("fit")
    seen = torch.cat([labels for _, labels in dm.train_dataloader()])
    assert len(seen) == 20 and sorted(seen.tolist()) == sorted(fake_labels(20, 10).tolist())


def test_loader_over_a_subset_yields_exactly_its_images(tmp_path):
    """The comparison runners pretrain on a fixed Subset of the train split: the loader must read those images."""
    from torch.utils.data import Subset

    from simclr.data import FashionMNIST

    data = FashionMNIST(str(write_fashion_mnist(tmp_path / "fm")), batch_size=4)
    data.setup("fit")
    train = data.dataset("train")
    subset = Subset(train, [5, 1, 7, 3, 11, 2, 9, 0])
    seen = torch.cat([images for images, _ in data.loader(subset, 4, shuffle=True, drop_last=True)])
    expected = torch.stack([train[i][0] for i in subset.indices])
    assert len(seen) == 8 and sorted(seen.flatten(1).sum(1).tolist()) == sorted(expected.flatten(1).sum(1).tolist())
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        data.dataset("test")
