"""The exact list of classes a config read from an untrusted file may name.

Configs saved in checkpoints (`hyper_parameters`, `datamodule_hyper_parameters`) and experiment and
strategy files name code by import path (`class_path: simclr.models.ResNetEncoder`), and our own
instantiation imports and calls what they name. Whole packages cannot be trusted by prefix: torch,
lightning and kornia hold callables that compile source or start processes when given chosen arguments.
So a path is accepted only when it names, exactly (no module attribute chain such as
`simclr.pretraining.lightning_cli.os.system`), one of:

- the project's own classes and view-pipeline factories in `PROJECT_CLASSES`, by their defining module or
  any package of ours above it that exports them (`simclr.ProjectionHead`, `simclr.models.ProjectionHead`);
- the third-party classes in `THIRD_PARTY_CLASSES` (optimisers, layers and loggers the shipped configs use);
- a `kornia.augmentation` transform: a class exported by `kornia.augmentation` that subclasses kornia's
  augmentation base (`kornia.augmentation.RandomSolarize`).

A torchvision network is named through `simclr.models.TorchvisionEncoder`, which checks its `name` against
torchvision's model registry. Paths from a file are compared as strings: nothing they name is imported.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from simclr.errors import UserError, short_reason

PROJECT_CLASSES: tuple[str, ...] = (
    # methods (LightningModules)
    "simclr.methods.SimCLR",
    "simclr.methods.MoCo",
    "simclr.methods.BYOL",
    "simclr.methods.ImageText",
    "simclr.finetuning.finetuner.FineTuner",
    "simclr.finetuning.distiller.Distiller",
    # networks
    "simclr.models.ResNetEncoder",
    "simclr.models.TorchvisionEncoder",
    "simclr.models.ProjectionHead",
    "simclr.models.TextTransformer",
    # losses
    "simclr.losses.NTXentLoss",
    "simclr.losses.SigmoidLoss",
    "simclr.losses.SupConLoss",
    "simclr.losses.CLIPLoss",
    "simclr.losses.SigLIPLoss",
    "simclr.losses.NegativePruning",
    # data modules
    "simclr.data.datamodules.FashionMNIST",
    "simclr.data.datamodules.CIFAR10",
    "simclr.data.datamodules.CIFAR100",
    "simclr.data.datamodules.STL10",
    "simclr.data.datamodules.ImageFolder",
    "simclr.data.unlabelled.UnlabelledImages",
    "simclr.data.shards.ImageShards",
    "simclr.captions.manifest_data.CaptionManifest",
    "simclr.captions.shards.CaptionShards",
    # training parts
    "simclr.training.lars.LARS",
    "simclr.training.pair_budget.ConstantPairsBudget",
    "simclr.training.online_probe.OnlineLinearProbe",
    # augmentation transforms
    "augmentations.transforms.RandomResizedCrop",
    "augmentations.transforms.Resize",
    "augmentations.transforms.RandomColorJitter",
    "augmentations.transforms.RandomGrayscale",
    "augmentations.transforms.RandomGaussianBlur",
    "augmentations.transforms.RandomSolarize",
    "augmentations.transforms.RandomRot90",
    "augmentations.transforms.Sobel",
    "augmentations.transforms.RandomHorizontalFlip",
    "augmentations.kornia_transforms.RandomCutout",
    "augmentations.kornia_transforms.RandomRotation",
    "augmentations.kornia_transforms.RandomGaussianNoise",
    # views and pipelines
    "augmentations.pipeline.ViewPipeline",
    "augmentations.views.MultiView",
    "augmentations.views.OneSidedViews",
    "augmentations.multicrop.MultiCrop",
    "augmentations.patches.GridPatches",
    "augmentations.patches.RandomPatches",
    # view-pipeline factories: each returns an augmentations.ViewPipeline built from plain values
    "augmentations.presets.simclr_fashion_mnist",
    "augmentations.presets.simclr_cifar",
    "augmentations.presets.simclr_imagenet",
    "augmentations.presets.crop_only",
    "augmentations.presets.color_only",
)

THIRD_PARTY_CLASSES: tuple[str, ...] = (
    "torch.optim.SGD",
    "torch.optim.Adam",
    "torch.optim.AdamW",
    "torch.nn.Identity",
    "torch.nn.Linear",
    "lightning.pytorch.loggers.TensorBoardLogger",
    "lightning.pytorch.loggers.CSVLogger",
    "lightning.pytorch.callbacks.ModelCheckpoint",
    "lightning.pytorch.callbacks.LearningRateMonitor",
)

KORNIA_AUGMENTATION = "kornia.augmentation"
INSTANTIATOR_KEY = "_instantiator"  # Lightning's record of how to rebuild a module from its hparams
INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"  # the one value it may hold
CLASS_KEYS = ("class_path", "_class_path")
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")  # a.b.C: how a config names code


def _resolve(path: str) -> Any:
    """The object at an import path of the fixed lists above (never a path read from a file)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _public_paths(obj: Any) -> set[str]:
    """`obj`'s defining path and the path through every package above that module exporting it."""
    paths = {f"{obj.__module__}.{obj.__qualname__}"}
    parts = obj.__module__.split(".")
    for n in range(1, len(parts)):
        package = importlib.import_module(".".join(parts[:n]))  # a package of ours, already imported
        if getattr(package, obj.__name__, None) is obj:
            paths.add(f"{package.__name__}.{obj.__name__}")
    return paths


def _kornia_paths() -> set[str]:
    """`kornia.augmentation.<Name>` and the defining path of every transform class it exports."""
    import kornia.augmentation as K
    from kornia.augmentation.base import _BasicAugmentationBase  # the base of every kornia transform

    paths: set[str] = set()
    for name in dir(K):
        found = getattr(K, name)
        if not name.startswith("_") and isinstance(found, type) and issubclass(found, _BasicAugmentationBase):
            paths |= {f"{KORNIA_AUGMENTATION}.{name}", f"{found.__module__}.{found.__qualname__}"}
    return paths


@functools.cache
def allowed_paths() -> frozenset[str]:
    """Every import path an untrusted config may name (see the module docstring)."""
    paths: set[str] = set()
    for path in PROJECT_CLASSES:
        paths |= {path, *_public_paths(_resolve(path))}
    for path in THIRD_PARTY_CLASSES:
        cls = _resolve(path)
        paths |= {path, f"{cls.__module__}.{cls.__qualname__}"}
    return frozenset(paths | _kornia_paths())


@functools.cache
def _is_module(name: str) -> bool:
    """Whether a top-level module `name` is installed (looked up without importing it)."""
    return importlib.util.find_spec(name) is not None


def named_paths(config: Any, everywhere: bool = True) -> Iterator[str]:
    """The import paths a config names: values of `class_path` keys, a Lightning instantiator other than
    its own, and with `everywhere` every other string that reads as `pkg.mod.Name` whose first name is an
    installed module (a class or callable given by name, e.g. `optimizer: torch.optim.SGD`)."""
    if isinstance(config, dict):
        for key, value in config.items():
            if key in CLASS_KEYS and isinstance(value, str):
                yield value
            elif key == INSTANTIATOR_KEY:
                if value != INSTANTIATOR:
                    yield str(value)
            else:
                yield from named_paths(value, everywhere)
    elif isinstance(config, (list, tuple)):
        for value in config:
            yield from named_paths(value, everywhere)
    elif everywhere and isinstance(config, str) and IMPORT_PATH.match(config) and _is_module(config.split(".")[0]):
        yield config


def refused_path(config: Any, everywhere: bool = True) -> str | None:
    """The first import path `config` names that is not on the list, or None."""
    allowed = allowed_paths()
    return next((path for path in named_paths(config, everywhere) if path not in allowed), None)


def check_classes(config: Any, source: str, switch: str, everywhere: bool = True) -> None:
    """UserError naming the first path that `config` (read from `source`) names outside the list, and
    `switch`, the one option that lifts the check for a file the user trusts."""
    path = refused_path(config, everywhere)
    if path is not None:
        raise UserError(
            f"{source} names {path}, which is not on the list of classes built from files "
            f"(this toolkit's own, listed optimisers and layers, kornia.augmentation transforms); "
            f"if you trust the file, pass {switch}"
        )


FILE_TRUST_SWITCH = "--trust_files true"  # the one option that lifts the check for experiment and strategy files


def check_config_file(path: str | Path, config: Any = None, switch: str = FILE_TRUST_SWITCH) -> None:
    """UserError when a YAML config file (an experiment, a strategies file, a fit config it names) names a
    class off the list; `config` is its parsed content when the caller has already read it."""
    if config is None:
        try:
            config = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as e:
            raise UserError(f"{path} is not a readable YAML file ({short_reason(e)}); fix or replace it") from e
    check_classes(config, str(path), switch)
