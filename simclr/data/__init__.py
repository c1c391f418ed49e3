"""Data modules that deliver uint8 batches to the device, the dataset readers behind them, the
device-resident store and the resumable loader."""

from simclr.data.datamodules import CIFAR10, CIFAR100, STL10, FashionMNIST, ImageDataModule, ImageFolder

__all__ = ["CIFAR10", "CIFAR100", "STL10", "FashionMNIST", "ImageDataModule", "ImageFolder"]
