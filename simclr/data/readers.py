"""Readers of the official dataset files: pure functions returning `(images uint8 (N, C, H, W), labels int64 (N,))`.

We read CIFAR and STL-10 ourselves because torchvision's classes check md5 sums of the official
archives and refuse extracted copies or re-packed files; the on-disk layouts are the official ones.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from simclr.data.safe_pickle import load_data_pickle
from simclr.errors import UserError, short_reason

Batch = tuple[Tensor, Tensor]  # images uint8 (N, C, H, W), labels int64 (N,)


_IDX_DTYPE = 0x08  # idx type code for unsigned byte, the only one Fashion-MNIST uses
FASHION_MNIST_FIX = "re-download it, or reinstall Debian's package: apt-get install --reinstall dataset-fashion-mnist"
CIFAR_FIX = "download the python version again from https://www.cs.toronto.edu/~kriz/cifar.html and extract it"
STL10_FIX = "download http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz again and extract it"


def damaged(path: Path, reason: str, fix: str) -> UserError:
    """The one-line error for a dataset file that is truncated, corrupt or of the wrong size."""
    return UserError(f"cannot read {path}: {reason}; the file is damaged or not the original, {fix}")


def read_idx(path: Path, fix: str = FASHION_MNIST_FIX) -> Tensor:
    """Reads one idx file (`.gz` or plain): 2 zero bytes, type byte, ndim byte, ndim int32 BE dims.

    A truncated or corrupt file (gzip's EOFError or BadGzipFile, a size the header does not give)
    raises a one-line UserError naming it and `fix`.

    Returns:
        uint8 tensor of the shape given in the header, e.g. (N, 28, 28) or (N,).
    """
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
            data = fh.read()
    except PermissionError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise damaged(path, short_reason(e), fix) from e
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != _IDX_DTYPE:
        raise damaged(path, f"not an unsigned-byte idx file (magic {data[:4].hex()})", fix)
    ndim = data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise damaged(path, f"the idx header is cut off ({len(data)} bytes)", fix)
    dims = tuple(int(d) for d in np.frombuffer(data, ">i4", count=ndim, offset=4))
    if len(data) - offset != int(np.prod(dims)):
        raise damaged(path, f"header says {dims} = {int(np.prod(dims))} bytes, file has {len(data) - offset}", fix)
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
            if images.ndim != 3 or labels.shape != (len(images),) or (len(labels) and labels.max() > 9):
                raise UserError(
                    f"Fashion-MNIST in {folder} does not match: images {tuple(images.shape)}, labels {tuple(labels.shape)} "
                    f"(expected (N, 28, 28), (N,) in 0..9); {FASHION_MNIST_FIX}"
                )
            return images.unsqueeze(1), labels.long()
    raise FileNotFoundError(
        f"Fashion-MNIST not found in {root.absolute()}: expected {names[0]}.gz and {names[1]}.gz "
        f"(or under FashionMNIST/raw); install Debian's dataset-fashion-mnist "
        f"(apt-get install dataset-fashion-mnist) or pass --data.init_args.root DIR"
    )


def read_cifar_file(path: Path, key: str, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch file: a pickled dict with `data` (N, 3072) uint8 and `key` (N labels in 0..classes-1).

    Unpickled with `load_data_pickle` (numpy arrays and plain data only: a crafted file cannot run code);
    anything else than an intact official file raises a one-line UserError naming it.

    Returns:
        images uint8 (N, 3, 32, 32), labels int64 (N,).
    """
    try:
        with open(path, "rb") as fh:
            entry = load_data_pickle(fh)  # the official files are Python 2 pickles (latin1)
    except PermissionError:
        raise
    except Exception as e:  # a damaged pickle fails in many ways (EOFError, UnpicklingError, ValueError, ...)
        raise damaged(path, f"not a CIFAR pickle ({short_reason(e)})", CIFAR_FIX) from e
    if not isinstance(entry, dict) or "data" not in entry or key not in entry:
        found = sorted(map(str, entry)) if isinstance(entry, dict) else type(entry).__name__
        raise damaged(path, f"expected a dict with 'data' and {key!r}, found {found}", CIFAR_FIX)
    try:
        data, labels = np.asarray(entry["data"]), np.asarray(entry[key], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise damaged(path, f"its {key!r} are not integers ({short_reason(e)})", CIFAR_FIX) from e
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise damaged(
            path,
            f"'data' is {data.dtype} {data.shape} and {key!r} {labels.shape}, expected uint8 (N, 3072) and (N,)",
            CIFAR_FIX,
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise damaged(path, f"labels {labels.min()}..{labels.max()} are not in 0..{classes - 1}", CIFAR_FIX)
    return data.reshape(-1, 3, 32, 32), labels


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
            parts = [read_cifar_file(folder / f, key, classes) for f in files]
            images, labels = (np.concatenate(arrays) for arrays in zip(*parts))
            return torch.from_numpy(images), torch.from_numpy(labels)
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
            if raw.size == 0 or raw.size % (3 * 96 * 96):
                raise damaged(x_path, f"{raw.size} bytes is not a whole number of 3*96*96-byte images", STL10_FIX)
            images = torch.from_numpy(raw).reshape(-1, 3, 96, 96).transpose(2, 3)  # (N, 3, H, W)
            if split == "unlabeled":
                return images, torch.full((len(images),), -1, dtype=torch.long)
            labels = torch.from_numpy(np.fromfile(y_path, dtype=np.uint8).astype(np.int64)) - 1  # 1..10 -> 0..9
            if labels.shape != (len(images),):
                raise damaged(y_path, f"{len(labels)} labels for the {len(images)} images of {x_path.name}", STL10_FIX)
            if labels.min() < 0 or labels.max() > 9:
                raise damaged(
                    y_path, f"labels {int(labels.min()) + 1}..{int(labels.max()) + 1} are not in 1..10", STL10_FIX
                )
            return images, labels
    raise FileNotFoundError(
        f"STL-10 not found in {root.absolute()}: expected stl10_binary/{split}_X.bin; download "
        f"http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz and extract it into {root.absolute()} "
        f"or pass --data.init_args.root DIR"
    )
