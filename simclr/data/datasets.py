"""Dataset readers and Dataset classes: everything stays uint8 until it reaches the device.

In-memory
datasets (`TensorImages`, `ConcatImages`) implement `__getitems__`, so torch's DataLoader fetches a
whole batch with one indexing op instead of a per-sample Python loop; `collate_batch` then passes the
batch through. No augmentation and no float conversion happen here: augmentation runs on the device.

The readers of the official file formats are in `simclr.data.readers`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from simclr.data.channels import as_channels
from simclr.data.decode import decode_framed
from simclr.errors import UserError

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


def find_classes(root: str | Path, option: str = "root") -> list[str]:
    """Sorted names of the sub-folders of `root` (one per class; hidden ones, `.name`, skipped).

    A one-line error if `root` is a file, unreadable or has no sub-folders; `option` names the
    `--data.init_args` option that sets `root` ("root" or "val_root"), for the fix.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError(
            f"{root.absolute()} is a file, not an image folder; pass --data.init_args.{option} DIR, "
            f"a folder with one sub-folder of images per class"
        )
    try:
        classes = (
            sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
        )
    except PermissionError as e:
        raise UserError(
            f"cannot read the image folder {root.absolute()} ({e.strerror}); give the user read access "
            f"(chmod -R a+rX) or pass another --data.init_args.{option}"
        ) from e
    if not classes:
        raise FileNotFoundError(
            f"no image folder at {root.absolute()}: expected {root.absolute()}/<class>/*.jpg (or png, bmp, webp); "
            f"pass --data.init_args.{option} DIR"
        )
    return classes


class ImageFolderDataset(Dataset):
    """Images under `root/<class>/*.{jpg,jpeg,png,bmp,webp}`, decoded to RGB and centre-cropped.

    Decoding and framing to a square (simclr.data.decode: at most a 4:3 centre crop, then resized) are the
    only CPU work in the data layer; they run in DataLoader workers and give uint8 images of one size,
    so batches stack. Hidden files and folders (`.name`) are skipped.

    Args:
        root: folder with one sub-folder per class.
        image_size: side of the square output, in pixels.
        classes: class names to use (e.g. the train folder's, for a val folder); sorted sub-folders if None.
            A sub-folder of `root` not among them is an error; one of them missing from `root` is not.
        option: the `--data.init_args` option that names `root` ("root" or "val_root"), for error messages.
        channels: 3 (RGB) or 1 (greyscale, BT.601 luma: `simclr.data.channels.as_channels`).
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int = 224,
        classes: Sequence[str] | None = None,
        option: str = "root",
        channels: int = 3,
    ):
        self.root, self.image_size, self.channels = Path(root), image_size, channels
        found = find_classes(self.root, option)
        self.classes = list(classes) if classes is not None else found
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            raise UserError(
                f"{self.root.absolute()} has classes the train folder lacks: {', '.join(unknown)}; give it the "
                f"same class sub-folders as the train folder (move or remove {self.root.absolute() / unknown[0]})"
            )
        folders = [(label, self.root / name) for label, name in enumerate(self.classes) if (self.root / name).is_dir()]
        self.samples: list[tuple[Path, int]] = [
            (path, label)
            for label, folder in folders
            for path in sorted(folder.iterdir())
            if path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
        ]
        if not self.samples:
            raise FileNotFoundError(
                f"no images in {self.root.absolute()}: expected <class>/*.jpg (or {', '.join(IMAGE_EXTENSIONS[1:])}); "
                f"pass --data.init_args.{option} DIR"
            )
        present = {label for _, label in self.samples}
        empty = [str(folder) for label, folder in folders if label not in present]
        if empty:
            raise UserError(
                f"no images in the class folder {empty[0]}"
                + (f" (and {len(empty) - 1} more)" if len(empty) > 1 else "")
                + f"; put {', '.join(e[1:] for e in IMAGE_EXTENSIONS)} images in it or remove it"
            )

    @property
    def labels(self) -> Tensor:
        """int64 (N,) class index of each image, in `samples` order."""
        return torch.tensor([label for _, label in self.samples], dtype=torch.long)

    def subset(self, indices: Tensor | Sequence[int]) -> ImageFolderDataset:
        """The same folder restricted to `samples[indices]` (e.g. a held-out split), without rescanning it."""
        part = copy.copy(self)
        part.samples = [self.samples[int(i)] for i in indices]
        return part

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """Returns image uint8 (channels, image_size, image_size) and its class index."""
        path, label = self.samples[index]
        return as_channels(decode_framed(path, self.image_size), self.channels), label
