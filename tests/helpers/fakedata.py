"""Small fake datasets written in the real on-disk formats, for tests that must not download.

Each `write_*` returns the root to pass as `root=`. Pixels come from a seeded generator, so a test can
regenerate exactly what was written with `fake_images(n, shape, SEEDS[split])`; labels cycle through
the classes (`fake_labels`).
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.io import write_png

SEEDS = {"train": 0, "test": 1, "unlabeled": 2}  # one generator seed per split


def fake_images(n: int, shape: tuple[int, ...], seed: int) -> Tensor:
    """Returns uint8 (n, *shape) random pixels from a generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=gen, dtype=torch.uint8)


def fake_labels(n: int, classes: int) -> Tensor:
    """Returns int64 (n,) labels 0, 1, ..., classes - 1, 0, 1, ..."""
    return torch.arange(n) % classes


def _write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def write_fashion_mnist(root: Path, n_train: int = 64, n_test: int = 32, gz: bool = True) -> Path:
    """Writes `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` directly into `root`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, split, n in (("train", "train", n_train), ("t10k", "test", n_test)):
        images = fake_images(n, (28, 28), SEEDS[split]).numpy()  # (n, 28, 28), no channel axis on disk
        _write_idx(root / f"{prefix}-images-idx3-ubyte", images, gz)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte", fake_labels(n, 10).numpy().astype(np.uint8), gz)
    return root


def _write_pickle(path: Path, images: Tensor, labels: dict[str, Tensor]) -> None:
    entry = {"data": images.reshape(len(images), -1).numpy()}  # (n, 3072), channel-major rows
    entry.update({key: value.tolist() for key, value in labels.items()})
    with open(path, "wb") as fh:
        pickle.dump(entry, fh)


def write_cifar10(root: Path, n_train: int = 64, n_test: int = 32) -> Path:
    """Writes `root/cifar-10-batches-py/{data_batch_1..5,test_batch}`; train split over 5 batches."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = fake_images(n_train, (3, 32, 32), SEEDS["train"]), fake_labels(n_train, 10)
    for i, idx in enumerate(torch.arange(n_train).tensor_split(5), start=1):
        _write_pickle(folder / f"data_batch_{i}", images[idx], {"labels": labels[idx]})
    test = fake_images(n_test, (3, 32, 32), SEEDS["test"])
    _write_pickle(folder / "test_batch", test, {"labels": fake_labels(n_test, 10)})
    return Path(root)


def write_cifar100(root: Path, n_train: int = 64, n_test: int = 32) -> Path:
    """Writes `root/cifar-100-python/{train,test}` with `fine_labels` (cycling 0..99) and `coarse_labels`."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        fine = fake_labels(n, 100)
        labels = {"fine_labels": fine, "coarse_labels": fine // 5}
        _write_pickle(folder / split, fake_images(n, (3, 32, 32), SEEDS[split]), labels)
    return Path(root)


def write_stl10(root: Path, n_train: int = 32, n_test: int = 16, n_unlabeled: int = 32) -> Path:
    """Writes `root/stl10_binary/{train,test,unlabeled}_X.bin` (column-major) and `{train,test}_y.bin` (1..10)."""
    folder = Path(root) / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = fake_images(n, (3, 96, 96), SEEDS[split])  # (n, 3, H, W)
        images.transpose(2, 3).contiguous().numpy().tofile(folder / f"{split}_X.bin")  # stored (n, 3, W, H)
        if split != "unlabeled":
            (fake_labels(n, 10) + 1).numpy().astype(np.uint8).tofile(folder / f"{split}_y.bin")
    return Path(root)


def write_image_folder(
    root: Path, classes: tuple[str, ...] = ("a", "b"), n_per_class: int = 6, size: tuple[int, int] = (40, 30)
) -> Path:
    """Writes `root/<class>/<i>.png`, RGB images of `size` = (height, width) from `fake_images`.

    Image i of class c (in `classes` order) is `fake_images(n_per_class, (3, H, W), seed=c_index)[i]`.
    """
    root = Path(root)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(fake_images(n_per_class, (3, *size), seed=c)):
            write_png(image, str(root / name / f"{i:03d}.png"))
    return root


def write_pil_image(path: Path, array: np.ndarray, **save_options) -> Path:
    """Writes `array` with Pillow in the format its suffix names (.bmp, .png, .jpg, ...), returns `path`.

    Args:
        array: uint8 (H, W) greyscale or (H, W, 3) RGB; uint16 (H, W) gives a 16-bit greyscale PNG (mode "I;16").
        save_options: passed to `PIL.Image.save` (e.g. quality=95 for JPEG).
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save_options)
    return path
