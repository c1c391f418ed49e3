"""`ImageFolder`: a data module over `root/<class>/*.jpg|png|...`, and where its test images come from.

The test (validation) images never overlap the training images. They are, in this order:
1. `val_root`, when given;
2. a held-out share of the train folder, when `val_fraction` is given (class-stratified, seeded by
   `split_seed`, removed from the training set; simclr.data.holdout);
3. a sibling folder of `root`, `val/` or else `test/` (ImageNet's and most exports' layout);
4. otherwise a one-line UserError at `setup()` that names the three ways to provide them.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset

from simclr.data.base import ImageDataModule
from simclr.data.datasets import ImageFolderDataset, find_classes
from simclr.data.holdout import check_val_options, stratified_holdout
from simclr.errors import UserError

SIBLING_VAL_FOLDERS = ("val", "test")  # looked for next to the train folder, in this order


class ImageFolder(ImageDataModule):
    """Images in `root/<class>/*.jpg|png|...`, decoded, resized and centre-cropped in workers.

    Args:
        root: the train folder, one sub-folder per class.
        val_root: the validation (test) folder, with the train folder's class sub-folders (or some of them).
            If None: a held-out share of `root` when `val_fraction` is set, else `root/../val` or
            `root/../test`, else an error.
        val_fraction: hold out this share of each class of `root` (0 < f < 1; round(f * n_c) images, at
            least 1 per class) as the test set, removed from the training set. Not with `val_root`.
        split_seed: seed of the held-out draw; fixed, so pretraining and the probe see the same split.
        image_size: side of the square crop in pixels.
        channels: 3 (RGB) or 1 (greyscale, BT.601 luma), the encoder's `in_channels`.
        (others as in `ImageDataModule`; use num_workers > 0 here, decoding is CPU work)
    """

    def __init__(
        self,
        root: str,
        val_root: str | None = None,
        val_fraction: float | None = None,
        split_seed: int = 0,
        image_size: int = 224,
        channels: int = 3,
        **kwargs,  # others: ImageDataModule's
    ):
        super().__init__(root, **kwargs)
        check_val_options(val_root, val_fraction)
        if image_size < 1:
            raise UserError(
                f"data.init_args.image_size is {image_size}; set --data.init_args.image_size to the side of the "
                f"crop in pixels (e.g. 224, the augmentation's size)"
            )
        if channels not in (1, 3):
            raise UserError(
                f"data.init_args.channels is {channels}; set --data.init_args.channels to 3 (RGB) or 1 (greyscale)"
            )
        self.channels = channels
        self.val_root = val_root
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.image_size = image_size

    @property
    def classes(self) -> list[str]:
        """Sorted class names, the sub-folders of the train folder."""
        return find_classes(self.root)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def holds_out(self) -> bool:
        """Whether the test images are a held-out share of the train folder (`val_fraction`)."""
        return self.val_fraction is not None

    def sibling_val_folder(self) -> Path | None:
        """`root/../val` or else `root/../test` when it is a folder (and not the train folder itself)."""
        root = Path(self.root).absolute()
        for name in SIBLING_VAL_FOLDERS:
            sibling = root.parent / name
            if sibling.is_dir() and sibling.resolve() != root.resolve():
                return sibling
        return None

    def resolved_val_root(self) -> Path:
        """The folder the test images come from: `val_root`, or the train folder when they are held out
        from it (`val_fraction`), or a sibling `val/` / `test/` folder. Without any of these it is the
        train folder too, and loading the test set raises (`check_val_source`)."""
        if self.val_root is not None:
            return Path(self.val_root)
        if self.holds_out:
            return Path(self.root)
        return self.sibling_val_folder() or Path(self.root)

    def check_val_source(self) -> None:
        """A one-line UserError when the test images would be the training images; cheap (no scan)."""
        if self.holds_out:
            return
        root = Path(self.root).absolute()
        if self.val_root is None and self.sibling_val_folder() is None:
            raise UserError(
                f"no validation images for the image folder {root}: pass --data.init_args.val_root DIR, "
                f"put them in {root}/../val (or ../test), or hold out a share of the train images with "
                f"--data.init_args.val_fraction 0.1"
            )
        if self.val_root is not None and Path(self.val_root).resolve() == root.resolve():
            raise UserError(
                f"data.init_args.val_root is the train folder {root}, so the test would score training images; "
                f"pass another folder, or hold out a share of them with --data.init_args.val_fraction 0.1 instead"
            )

    def setup(self, stage: str | None = None) -> None:
        find_classes(self.root)  # cheap checks first: a missing train folder, then a missing test set
        self.check_val_source()
        super().setup(stage)

    def train_folder(self) -> ImageFolderDataset:
        """Every image of the train folder (before any hold-out), scanned once."""
        if "folder" not in self._cache:
            self._cache["folder"] = ImageFolderDataset(self.root, self.image_size, channels=self.channels)
        return self._cache["folder"]

    def held_out_split(self) -> tuple[Tensor, Tensor]:
        """Positions in `train_folder()` kept for training (N - M,) and held out for testing (M,), int64."""
        folder = self.train_folder()
        labels = folder.labels  # (N,)
        counts = labels.bincount(minlength=len(folder.classes))  # (K,)
        if counts.min() < 2:
            name = folder.classes[int(counts.argmin())]
            raise UserError(
                f"the class folder {Path(self.root).absolute() / name} has {int(counts.min())} image, too few to hold "
                f"out a share of it (val_fraction keeps at least 1 and holds out at least 1 per class); add images "
                f"or pass --data.init_args.val_root DIR"
            )
        return stratified_holdout(labels, self.val_fraction, self.split_seed)

    def load(self, split: str) -> Dataset:
        if split == "train":
            return self.train_folder().subset(self.held_out_split()[0]) if self.holds_out else self.train_folder()
        self.check_val_source()
        if self.holds_out:
            return self.train_folder().subset(self.held_out_split()[1])
        return ImageFolderDataset(
            self.resolved_val_root(), self.image_size, classes=self.classes, option="val_root", channels=self.channels
        )

    def test_set_description(self) -> str:
        """Which images the probe tests on, e.g. `1200 images held out from /data/train (val_fraction 0.1,
        split_seed 0)` or `ImageFolder val folder (5000 images) in /data/val`."""
        n = len(self.labelled_dataset("test"))
        if self.holds_out:
            root = Path(self.root).absolute()
            return f"{n} images held out from {root} (val_fraction {self.val_fraction}, split_seed {self.split_seed})"
        return f"{type(self).__name__} val folder ({n} images) in {self.resolved_val_root().absolute()}"
