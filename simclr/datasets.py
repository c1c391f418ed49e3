"""Dataset readers and Dataset classes: everything stays uint8 until it reaches the device.

Readers are pure functions that return `(images uint8 (N, C, H, W), labels int64 (N,))`. In-memory
datasets (`TensorImages`, `ConcatImages`) implement `__getitems__`, so torch's DataLoader fetches a
whole batch with one indexing op instead of a per-sample Python loop; `collate_batch` then passes the
batch through. No augmentation and no float conversion happen here: augmentation runs on the device.

We read CIFAR and STL-10 ourselves because torchvision's classes check md5 sums of the official
archives and refuse extracted copies or re-packed files; the on-disk layouts are the official ones.
"""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_image

from simclr.errors import UserError, short_reason

Batch = tuple[Tensor, Tensor]  # images uint8 (B, C, H, W), labels int64 (B,)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class TensorImages(Dataset):
    """A labelled image set held in memory.

    Args:
        images: uint8 (N, C, H, W).
        labels: int64 (N,); -1 marks an unlabelled image.
    """

    def __init__(self, images: Tensor, labels: Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Returns one image uint8 (C, H, W) and its label int64 ()."""
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """Returns a whole batch, images uint8 (B, C, H, W) and labels int64 (B,), in one gather."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx], self.labels[idx]


class ConcatImages(Dataset):
    """Concatenation of `TensorImages` that keeps batched `__getitems__` without copying the parts.

    `torch.utils.data.ConcatDataset` has no `__getitems__`; `torch.cat` would copy the 2.7 GB STL-10
    unlabelled split.

    Args:
        parts: datasets whose images share (C, H, W).
    """

    def __init__(self, parts: Sequence[TensorImages]):
        if len({p.images.shape[1:] for p in parts}) != 1:
            raise ValueError("ConcatImages parts must share the image shape (C, H, W)")
        self.parts = list(parts)
        self.offsets = torch.tensor([0] + [len(p) for p in parts]).cumsum(0)  # (P + 1,)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        images, labels = self.__getitems__([index])
        return images[0], labels[0]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """Returns images uint8 (B, C, H, W) and labels int64 (B,) in the order of `indices`."""
        idx = torch.as_tensor(indices, dtype=torch.long)  # (B,)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"index out of range for ConcatImages of length {len(self)}")
        part = torch.searchsorted(self.offsets[1:], idx, right=True)  # (B,) which part each index is in
        images = torch.empty((len(idx), *self.parts[0].images.shape[1:]), dtype=torch.uint8)
        labels = torch.empty(len(idx), dtype=torch.long)
        for p, ds in enumerate(self.parts):
            mask = part == p
            if mask.any():
                local = idx[mask] - self.offsets[p]
                images[mask], labels[mask] = ds.images[local], ds.labels[local]
        return images, labels


def collate_batch(batch: Batch | Sequence[tuple[Tensor, int | Tensor]]) -> Batch:
    """Collate function for all our loaders (module-level, so it pickles for worker processes).

    Args:
        batch: either a batch already gathered by `__getitems__`, a tuple (images uint8 (B, C, H, W),
            labels int64 (B,)), returned unchanged; or a list of B (image uint8 (C, H, W), label) pairs
            from a per-sample dataset, stacked.

    Returns:
        images uint8 (B, C, H, W), labels int64 (B,).
    """
    if isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], Tensor) and batch[0].ndim == 4:
        return batch
    images = torch.stack([image for image, _ in batch])  # (B, C, H, W)
    labels = torch.as_tensor([int(label) for _, label in batch], dtype=torch.long)  # (B,)
    return images, labels


_IDX_DTYPE = 0x08  # idx type code for unsigned byte, the only one Fashion-MNIST uses


def read_idx(path: Path) -> Tensor:
    """Reads one idx file (`.gz` or plain): 2 zero bytes, type byte, ndim byte, ndim int32 BE dims.

    Returns:
        uint8 tensor of the shape given in the header, e.g. (N, 28, 28) or (N,).
    """
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != _IDX_DTYPE:
        raise ValueError(f"{path}: not an unsigned-byte idx file (magic {data[:4].hex()})")
    ndim = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, ">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} = {int(np.prod(dims))} bytes, file has {len(data) - offset}")
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).reshape(dims)


def read_fashion_mnist(root: str | Path, train: bool) -> Batch:
    """Reads Fashion-MNIST from the original idx files in `root` or `root/FashionMNIST/raw`.

    Args:
        root: folder with `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` (the Debian package
            and the Zalando download) or torchvision's download layout under it.
        train: the 60000-image train split if True, else the 10000-image test split.

    Returns:
        images uint8 (N, 1, 28, 28), labels int64 (N,) in 0..9.
    """
    root = Path(root)
    prefix = "train" if train else "t10k"
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    for folder in (root, root / "FashionMNIST" / "raw"):
        paths = [next((p for p in (folder / f"{n}.gz", folder / n) if p.is_file()), None) for n in names]
        if all(paths):
            images, labels = read_idx(paths[0]), read_idx(paths[1])
            if images.ndim != 3 or labels.shape != (len(images),):
                raise ValueError(f"Fashion-MNIST in {folder}: images {tuple(images.shape)}, labels {tuple(labels.shape)}")
            return images.unsqueeze(1), labels.long()
    raise FileNotFoundError(
        f"Fashion-MNIST not found in {root.absolute()}: expected {names[0]}.gz and {names[1]}.gz "
        f"(or under FashionMNIST/raw); install Debian's dataset-fashion-mnist "
        f"(apt-get install dataset-fashion-mnist) or pass --data.init_args.root DIR"
    )


def read_cifar(root: str | Path, train: bool, classes: int = 10) -> Batch:
    """Reads CIFAR-10 (`cifar-10-batches-py`) or CIFAR-100 (`cifar-100-python`), in `root` or as `root`.

    Args:
        root: folder holding the extracted folder, or the extracted folder itself.
        train: the 50000-image train split if True, else the 10000-image test split.
        classes: 10 for CIFAR-10 (key `labels`), 100 for CIFAR-100 (key `fine_labels`).

    Returns:
        images uint8 (N, 3, 32, 32), labels int64 (N,).
    """
    if classes not in (10, 100):
        raise ValueError(f"classes must be 10 or 100, got {classes}")
    root = Path(root)
    sub, key = ("cifar-10-batches-py", "labels") if classes == 10 else ("cifar-100-python", "fine_labels")
    if classes == 10:
        files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    else:
        files = ["train" if train else "test"]
    for folder in (root / sub, root):
        if all((folder / f).is_file() for f in files):
            images, labels = [], []
            for f in files:
                with open(folder / f, "rb") as fh:
                    entry = pickle.load(fh, encoding="latin1")  # the official files are Python 2 pickles
                images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                labels.append(np.asarray(entry[key], dtype=np.int64))
            return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))
    name = "CIFAR-10" if classes == 10 else "CIFAR-100"
    raise FileNotFoundError(
        f"{name} not found in {root.absolute()}: expected {sub}/{files[0]}; download the python version "
        f"from https://www.cs.toronto.edu/~kriz/cifar.html and extract it into {root.absolute()} "
        f"or pass --data.init_args.root DIR"
    )


STL10_SPLITS = ("train", "test", "unlabeled")


def read_stl10(root: str | Path, split: str) -> Batch:
    """Reads STL-10 from `stl10_binary/{split}_X.bin` (and `{split}_y.bin`), in `root` or as `root`.

    Each image is stored as 3 x 96 x 96 bytes in column-major order (x outer, y inner per channel),
    so we reshape to (N, 3, W, H) and swap the last two axes, as torchvision does.

    Args:
        root: folder holding `stl10_binary`, or that folder itself.
        split: "train" (5000), "test" (8000) or "unlabeled" (100000, label -1).

    Returns:
        images uint8 (N, 3, 96, 96) (a strided view of the file's array, no copy), labels int64 (N,).
    """
    if split not in STL10_SPLITS:
        raise ValueError(f"split must be one of {STL10_SPLITS}, got {split!r}")
    root = Path(root)
    for folder in (root / "stl10_binary", root):
        x_path, y_path = folder / f"{split}_X.bin", folder / f"{split}_y.bin"
        if x_path.is_file() and (split == "unlabeled" or y_path.is_file()):
            raw = np.fromfile(x_path, dtype=np.uint8)
            if raw.size % (3 * 96 * 96):
                raise ValueError(f"{x_path}: size {raw.size} is not a multiple of 3*96*96")
            images = torch.from_numpy(raw).reshape(-1, 3, 96, 96).transpose(2, 3)  # (N, 3, H, W)
            if split == "unlabeled":
                return images, torch.full((len(images),), -1, dtype=torch.long)
            labels = torch.from_numpy(np.fromfile(y_path, dtype=np.uint8).astype(np.int64)) - 1  # 1..10 -> 0..9
            if labels.shape != (len(images),):
                raise ValueError(f"{y_path}: {len(labels)} labels for {len(images)} images")
            return images, labels
    raise FileNotFoundError(
        f"STL-10 not found in {root.absolute()}: expected stl10_binary/{split}_X.bin; download "
        f"http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz and extract it into {root.absolute()} "
        f"or pass --data.init_args.root DIR"
    )


def find_classes(root: str | Path) -> list[str]:
    """Sorted names of the sub-folders of `root` (one per class); FileNotFoundError if none."""
    root = Path(root)
    try:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    except PermissionError as e:
        raise UserError(f"cannot read the image folder {root.absolute()} ({e.strerror}); give the user read access (chmod -R a+rX) or pass another --data.init_args.root") from e
    if not classes:
        raise FileNotFoundError(
            f"no image folder at {root.absolute()}: expected {root.absolute()}/<class>/*.jpg (or png, bmp, webp); "
            f"pass --data.init_args.root DIR"
        )
    return classes


class ImageFolderDataset(Dataset):
    """Images under `root/<class>/*.{jpg,jpeg,png,bmp,webp}`, decoded to RGB and centre-cropped.

    Decoding, resizing (shorter side to `image_size`) and the centre crop are the only CPU work in
    the data layer; they run in DataLoader workers and give uint8 images of one size, so batches stack.

    Args:
        root: folder with one sub-folder per class.
        image_size: side of the square output, in pixels.
        classes: class names to use (e.g. the train folder's, for a val folder); sorted sub-folders if None.
    """

    def __init__(self, root: str | Path, image_size: int = 224, classes: Sequence[str] | None = None):
        self.root, self.image_size = Path(root), image_size
        found = find_classes(self.root)
        self.classes = list(classes) if classes is not None else found
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            raise ValueError(f"{self.root.absolute()} has classes not in the train folder: {unknown}")
        self.samples: list[tuple[Path, int]] = [
            (path, label)
            for label, name in enumerate(self.classes)
            if (self.root / name).is_dir()
            for path in sorted((self.root / name).iterdir())
            if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
        ]
        if not self.samples:
            raise FileNotFoundError(
                f"no images in {self.root.absolute()}: expected <class>/*.jpg (or {', '.join(IMAGE_EXTENSIONS[1:])})"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """Returns image uint8 (3, image_size, image_size) and its class index."""
        path, label = self.samples[index]
        try:
            image = decode_image(str(path), mode=ImageReadMode.RGB)  # (3, H, W) uint8
        except (RuntimeError, ValueError, OSError) as e:
            raise UserError(f"cannot decode image {path} ({short_reason(e)}); delete or replace the file") from e
        image = TF.resize(image, [self.image_size], antialias=True)  # shorter side -> image_size
        return TF.center_crop(image, [self.image_size, self.image_size]), label
