"""Data modules that deliver uint8 batches to the device (the benchmark datasets, labelled image folders, and
your own unlabelled images from folders, lists and manifests), the readers and decoding behind them, the
folder index, the device-resident store and the resumable loader."""

from simclr.data.datamodules import CIFAR10, CIFAR100, STL10, FashionMNIST, ImageDataModule, ImageFolder
from simclr.data.shards import ImageShards
from simclr.data.unlabelled import UnlabelledImages

__all__ = ["CIFAR10", "CIFAR100", "STL10", "FashionMNIST", "ImageDataModule", "ImageFolder", "ImageShards", "UnlabelledImages"]
