"""SimCLR in PyTorch Lightning: uint8 batch -> device -> views -> encoder -> h -> head -> z -> loss.

    from simclr import SimCLR, ResNetEncoder, ProjectionHead, NTXentLoss, LARS, FashionMNIST

Subpackages, lowest layer first (tests/test_layers.py keeps every import pointing down):

- `models` (encoder, head), `losses`, `data` (data modules, readers, subsets);
- `safety`: run safety (untrusted files, atomic checkpoints, exact resume, signals, the loss guard);
- `training`: optimiser and schedule, training-time callbacks, `make_trainer`;
- `methods`: SimCLR, MoCo, BYOL as LightningModules;
- `loading`: any checkpoint of this toolkit -> `Pretrained` (`simclr.load`), and `export`;
- `eval`: the probe routine (linear, kNN), diagnostics, `simclr probe`;
- `pretraining`: `simclr fit` from Python (`run_fit`);
- `finetuning`: fine-tuning and distillation (`finetune`, `distill` and their modules);
- `ablation`: `simclr compare` and `simclr compare-augs`;
- `cli`: the `simclr` command, a thin parser over the functions above.
"""

from simclr.data import CIFAR10, CIFAR100, STL10, FashionMNIST, ImageDataModule, ImageFolder
from simclr.eval import ProbeRecipe, fit_linear_probe, knn_top1
from simclr.eval.probe import probe_encoder
from simclr.finetuning import Distiller, FineTuner
from simclr.finetuning.distill import distill
from simclr.finetuning.finetune import finetune
from simclr.loading import Pretrained, load
from simclr.losses import CLIPLoss, NegativePruning, NTXentLoss, SigLIPLoss, SigmoidLoss, SupConLoss
from simclr.methods import BYOL, ImageText, MoCo, SimCLR
from simclr.models import ProjectionHead, ResNetEncoder, TextTransformer, TorchvisionEncoder
from simclr.pretraining import run_fit
from simclr.training import LARS, OnlineLinearProbe
from simclr.training.trainer import make_trainer

__all__ = [
    "BYOL",
    "CIFAR10",
    "CIFAR100",
    "CLIPLoss",
    "Distiller",
    "LARS",
    "MoCo",
    "STL10",
    "FashionMNIST",
    "FineTuner",
    "ImageDataModule",
    "ImageFolder",
    "ImageText",
    "NTXentLoss",
    "NegativePruning",
    "OnlineLinearProbe",
    "Pretrained",
    "ProbeRecipe",
    "ProjectionHead",
    "ResNetEncoder",
    "SigLIPLoss",
    "SigmoidLoss",
    "SimCLR",
    "SupConLoss",
    "TextTransformer",
    "TorchvisionEncoder",
    "distill",
    "finetune",
    "fit_linear_probe",
    "knn_top1",
    "load",
    "make_trainer",
    "probe_encoder",
    "run_fit",
]
