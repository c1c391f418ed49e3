"""SimCLR in PyTorch Lightning: uint8 batch -> device -> views -> encoder -> h -> head -> z -> loss.

    from simclr import SimCLR, ResNetEncoder, ProjectionHead, NTXentLoss, LARS, FashionMNIST

Subpackages: `models` (encoder, head), `losses`, `methods` (the LightningModules), `data`, `eval`
(linear probe, kNN, diagnostics), `training` (optimiser, checkpoints, resume), `cli`, `ablation`.
"""

from simclr.data import CIFAR10, CIFAR100, STL10, FashionMNIST, ImageDataModule, ImageFolder
from simclr.eval import ProbeRecipe, fit_linear_probe, knn_top1
from simclr.eval.probe import probe_encoder
from simclr.finetuning import Distiller, FineTuner
from simclr.loading import Pretrained, load
from simclr.losses import NegativePruning, NTXentLoss, SigmoidLoss, SupConLoss
from simclr.methods import BYOL, MoCo, SimCLR
from simclr.models import ProjectionHead, ResNetEncoder, TorchvisionEncoder
from simclr.training import LARS, OnlineLinearProbe

__all__ = [
    "BYOL",
    "CIFAR10",
    "CIFAR100",
    "Distiller",
    "LARS",
    "MoCo",
    "STL10",
    "FashionMNIST",
    "FineTuner",
    "ImageDataModule",
    "ImageFolder",
    "NTXentLoss",
    "NegativePruning",
    "OnlineLinearProbe",
    "Pretrained",
    "ProbeRecipe",
    "ProjectionHead",
    "ResNetEncoder",
    "SigmoidLoss",
    "SimCLR",
    "SupConLoss",
    "TorchvisionEncoder",
    "fit_linear_probe",
    "knn_top1",
    "load",
    "probe_encoder",
]
