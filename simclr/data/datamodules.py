"""LightningDataModules: uint8 batches (images (B, C, H, W), labels int64 (B,)) to the device.

The constructors' type hints are the LightningCLI config, e.g.

    data:
      class_path: simclr.data.datamodules.CIFAR10
      init_args: {root: data/cifar10, batch_size: 512, num_workers: 4}

Each module names its pretraining set ("train") and its labelled evaluation set ("val", the official
test split); `labelled_dataset("train" | "test")` gives the labelled splits a linear probe needs.
Missing data raises a one-line FileNotFoundError at `setup()`, never at construction or import.
Augmentation and float conversion happen on the device, in the LightningModule.

Two ways to the device: by default uint8 batches are gathered on the host and copied (pinned memory when
CUDA is used; Lightning copies with non_blocking=True); with `device_resident=True` the whole in-memory
set is copied to the device once and each batch is gathered there from an index batch (simclr.data.resident).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from simclr.data.datasets import ConcatImages, ImageFolderDataset, TensorImages, collate_batch, find_classes
from simclr.data.readers import read_cifar, read_fashion_mnist, read_stl10
from simclr.errors import UserError
from simclr.data.resumable import EpochRandomSampler, ResumableDataLoader
from simclr.data.resident import IndexBatch, IndexDataset, ResidentStore, collate_indices


class ImageDataModule(L.LightningDataModule):
    """Base class: subclasses implement `load(split)`; this class caches datasets and builds loaders.

    Args:
        root: where the dataset lives (layout per subclass).
        batch_size: images per training batch (per device). Train drops the last short batch: a
            batch of 1 has no negatives for the contrastive loss.
        num_workers: DataLoader worker processes; 0 loads in the main process (fine for in-memory sets).
        val_batch_size: images per validation batch; `batch_size` if None.
        pin_memory: pin host memory for faster copies; only applied when CUDA is available.
        device_resident: keep the whole uint8 train and val sets on the training device (copied once, at
            the first batch) and gather each batch there; the loader yields only indices, in the main
            process (num_workers is ignored). For in-memory sets that fit in device memory (Fashion-MNIST,
            CIFAR, STL-10); not for image folders. Needs the trainer to use this data module's hooks
            (`trainer.fit(model, datamodule=dm)`, as the CLI does).
    """

    num_classes: int  # classes of the labelled splits
    channels: int  # image channels C
    image_size: int  # image side H = W in pixels

    def __init__(
        self,
        root: str,
        batch_size: int = 256,
        num_workers: int = 0,
        val_batch_size: int | None = None,
        pin_memory: bool = True,
        device_resident: bool = False,
    ):
        super().__init__()
        # Under LightningCLI this records the YAML (class_path + init_args), so checkpoints can rebuild
        # the data module: `ImageDataModule.load_from_checkpoint(ckpt)` (used by `simclr probe`).
        self.save_hyperparameters()
        self.root = root
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_batch_size = val_batch_size or batch_size
        self.pin_memory = pin_memory
        self.device_resident = device_resident
        self._cache: dict[str, Dataset] = {}
        self._resident = ResidentStore()

    def load(self, split: str) -> Dataset:
        """Builds the "train" (pretraining) or "val" (labelled official test split) dataset."""
        raise NotImplementedError

    def dataset(self, split: str) -> Dataset:
        """The cached dataset for `split` ("train" or "val"), loaded on first use."""
        if split not in self._cache:
            self._cache[split] = self.load(split)
        return self._cache[split]

    def labelled_dataset(self, split: str) -> Dataset:
        """The labelled "train" or "test" split (for a linear probe); here the pretraining and val sets."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.dataset("train" if split == "train" else "val")

    def setup(self, stage: str | None = None) -> None:
        """Loads (once) the sets the stage needs; raises FileNotFoundError if the data is absent."""
        if stage in (None, "fit"):
            self.dataset("train")
        self.dataset("val")

    def loader(self, split: str, batch_size: int, shuffle: bool, drop_last: bool) -> DataLoader:
        """A DataLoader over `split` with this module's worker and pinning settings: uint8 batches, or
        `IndexBatch`es of positions when device-resident (gathered in `transfer_batch_to_device`).

        Shuffled loaders resume mid-epoch (`simclr.data.resumable`): the order is a function of (seed, epoch).
        """
        dataset = self.dataset(split)
        seed = torch.initial_seed()  # the seed seed_everything set
        pin = self.pin_memory and torch.cuda.is_available()
        if self.device_resident:
            indices = IndexDataset(len(dataset), split)
            return ResumableDataLoader(
                indices,
                batch_size=batch_size,
                sampler=EpochRandomSampler(indices, seed) if shuffle else None,
                drop_last=drop_last,
                collate_fn=collate_indices,
                pin_memory=pin,
            )
        return ResumableDataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochRandomSampler(dataset, seed) if shuffle else None,
            generator=torch.Generator().manual_seed(seed),  # worker seeds without drawing from the global RNG
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=collate_batch,
            pin_memory=pin,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled pretraining batches (images uint8 (B, C, H, W), labels int64 (B,)), last short one dropped."""
        dataset = self.dataset("train")
        if len(dataset) < self.batch_size:
            raise UserError(f"batch_size {self.batch_size} exceeds the {len(dataset)} training images; set data.init_args.batch_size <= {len(dataset)}")
        return self.loader("train", self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        """Labelled test-split batches in order, the last one possibly short (but never a single image,
        which NT-Xent cannot score: it is dropped)."""
        dataset = self.dataset("val")
        return self.loader("val", self.val_batch_size, shuffle=False, drop_last=len(dataset) % self.val_batch_size == 1)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Device-resident batches are gathered on the device; others move as Lightning moves them."""
        if isinstance(batch, IndexBatch):
            return self._resident.gather(batch, self.dataset(batch.split), device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def teardown(self, stage: str) -> None:
        """Frees the device copies of device-resident sets."""
        self._resident.clear()


class FashionMNIST(ImageDataModule):
    """Fashion-MNIST, 1 x 28 x 28, 10 classes; 60000 train / 10000 test from the idx files."""

    num_classes, channels, image_size = 10, 1, 28

    def __init__(self, root: str = "/usr/share/datasets/fashion-mnist", **kwargs):  # other arguments: ImageDataModule's
        super().__init__(root, **kwargs)

    def load(self, split: str) -> Dataset:
        return TensorImages(*read_fashion_mnist(self.root, train=split == "train"))


class CIFAR10(ImageDataModule):
    """CIFAR-10, 3 x 32 x 32, 10 classes; 50000 train / 10000 test from `cifar-10-batches-py`."""

    num_classes, channels, image_size = 10, 3, 32

    def __init__(self, root: str = "data/cifar10", **kwargs):  # other arguments: ImageDataModule's
        super().__init__(root, **kwargs)

    def load(self, split: str) -> Dataset:
        return TensorImages(*read_cifar(self.root, train=split == "train", classes=self.num_classes))


class CIFAR100(CIFAR10):
    """CIFAR-100, 3 x 32 x 32, 100 fine classes; 50000 train / 10000 test from `cifar-100-python`."""

    num_classes = 100

    def __init__(self, root: str = "data/cifar100", **kwargs):  # other arguments: ImageDataModule's
        super().__init__(root, **kwargs)


class STL10(ImageDataModule):
    """STL-10, 3 x 96 x 96, 10 classes; pretrains on unlabeled (100000) + train (5000), tests on 8000.

    Args:
        unlabeled: pretrain on the unlabeled split plus train if True, on train only if False.
        (others as in `ImageDataModule`)
    """

    num_classes, channels, image_size = 10, 3, 96

    def __init__(self, root: str = "data/stl10", unlabeled: bool = True, **kwargs):  # others: ImageDataModule's
        super().__init__(root, **kwargs)
        self.unlabeled = unlabeled

    def load(self, split: str) -> Dataset:
        if split == "val":
            return TensorImages(*read_stl10(self.root, "test"))
        train = self.labelled_dataset("train")
        if not self.unlabeled:
            return train
        return ConcatImages([TensorImages(*read_stl10(self.root, "unlabeled")), train])

    def labelled_dataset(self, split: str) -> Dataset:
        """The labelled "train" (5000) or "test" (8000) split; never the unlabeled one."""
        if split == "train":
            if "labelled_train" not in self._cache:
                self._cache["labelled_train"] = TensorImages(*read_stl10(self.root, "train"))
            return self._cache["labelled_train"]
        return super().labelled_dataset(split)


class ImageFolder(ImageDataModule):
    """Images in `root/<class>/*.jpg|png|...`, decoded, resized and centre-cropped in workers.

    Args:
        root: the train folder, one sub-folder per class.
        val_root: the validation folder; if None, `root/../val` when it exists, else `root` itself.
        image_size: side of the square crop in pixels.
        (others as in `ImageDataModule`; use num_workers > 0 here, decoding is CPU work)
    """

    channels = 3

    def __init__(self, root: str, val_root: str | None = None, image_size: int = 224, **kwargs):  # others: ImageDataModule's
        super().__init__(root, **kwargs)
        self.val_root = val_root
        self.image_size = image_size

    @property
    def classes(self) -> list[str]:
        """Sorted class names, the sub-folders of the train folder."""
        return find_classes(self.root)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def resolved_val_root(self) -> Path:
        """The validation folder actually used (see `val_root`)."""
        if self.val_root is not None:
            return Path(self.val_root)
        sibling = Path(self.root).absolute().parent / "val"
        return sibling if sibling.is_dir() else Path(self.root)

    def load(self, split: str) -> Dataset:
        if split == "train":
            return ImageFolderDataset(self.root, self.image_size)
        return ImageFolderDataset(self.resolved_val_root(), self.image_size, classes=self.classes)
