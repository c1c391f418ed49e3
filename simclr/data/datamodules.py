"""The data modules of the official datasets (uint8 batches: images (B, C, H, W), labels int64 (B,)).

The constructors' type hints are the LightningCLI config, e.g.

    data:
      class_path: simclr.data.datamodules.CIFAR10
      init_args: {root: data/cifar10, batch_size: 512, num_workers: 4}

Each module names its pretraining set ("train") and its labelled evaluation set ("val", the official
test split); `labelled_dataset("train" | "test")` gives the labelled splits a linear probe needs.
Missing or damaged data raises a one-line error at `setup()`, never at construction or import.

The base class (loaders, caching, device-resident batches) is `simclr.data.base.ImageDataModule`; image
folders are `simclr.data.image_folder.ImageFolder`. Both are importable from here too, the class paths
that configs and checkpoints name.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from simclr.data.base import ImageDataModule
from simclr.data.datasets import ConcatImages, TensorImages
from simclr.data.image_folder import ImageFolder
from simclr.data.readers import read_cifar, read_fashion_mnist, read_stl10

__all__ = ["CIFAR10", "CIFAR100", "STL10", "FashionMNIST", "ImageDataModule", "ImageFolder"]


class FashionMNIST(ImageDataModule):
    """Fashion-MNIST, 1 x 28 x 28, 10 classes; 60000 train / 10000 test from the idx files."""

    num_classes, channels, image_size = 10, 1, 28
    class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")  # fmt: skip

    def __init__(self, root: str = "/usr/share/datasets/fashion-mnist", **kwargs):  # other arguments: ImageDataModule's
        super().__init__(root, **kwargs)

    def load(self, split: str) -> Dataset:
        return TensorImages(*read_fashion_mnist(self.root, train=split == "train"))


class CIFAR10(ImageDataModule):
    """CIFAR-10, 3 x 32 x 32, 10 classes; 50000 train / 10000 test from `cifar-10-batches-py`."""

    num_classes, channels, image_size = 10, 3, 32
    class_names: tuple[str, ...] | None = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                           "ship", "truck")  # fmt: skip

    def __init__(self, root: str = "data/cifar10", **kwargs):  # other arguments: ImageDataModule's
        super().__init__(root, **kwargs)

    def load(self, split: str) -> Dataset:
        return TensorImages(*read_cifar(self.root, train=split == "train", classes=self.num_classes))


class CIFAR100(CIFAR10):
    """CIFAR-100, 3 x 32 x 32, 100 fine classes; 50000 train / 10000 test from `cifar-100-python`."""

    num_classes = 100
    class_names = None  # zero-shot on CIFAR-100: pass a file of its 100 names (`simclr zeroshot --classes`)

    def __init__(self, root: str = "data/cifar100", **kwargs):  # other arguments: ImageDataModule's
        super().__init__(root, **kwargs)


class STL10(ImageDataModule):
    """STL-10, 3 x 96 x 96, 10 classes; pretrains on unlabeled (100000) + train (5000), tests on 8000.

    Args:
        unlabeled: pretrain on the unlabeled split plus train if True, on train only if False.
        (others as in `ImageDataModule`)
    """

    num_classes, channels, image_size = 10, 3, 96
    class_names = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")

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
