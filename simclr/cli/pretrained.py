"""A pretrained `simclr fit` checkpoint, loaded for the commands that use one (probe, export)."""

from pathlib import Path

import torch

from simclr.data.datamodules import ImageDataModule
from simclr.errors import UserError
from simclr.eval.features import projection_head, representation_names
from simclr.methods.simclr import SimCLR
from simclr.training.safe_loading import check_finite, read_checkpoint


def load_pretrained(ckpt: str, map_location: str | torch.device = "cpu", weights_only: bool = True) -> SimCLR:
    """The SimCLR module of a checkpoint written by `simclr fit`, rebuilt from its saved config.

    A missing file raises FileNotFoundError; a truncated, corrupt, unsafe, foreign or diverged (non-finite)
    file a one-line UserError. `weights_only=False` unpickles any object in the file and instantiates any
    class its config names: only for files the user trusts.
    """
    check_finite(read_checkpoint(ckpt, weights_only), ckpt)  # memory-mapped: cheap checks before Lightning loads it
    return SimCLR.load_from_checkpoint(Path(ckpt), map_location=map_location, weights_only=weights_only)


def check_representations(model: SimCLR, wanted: list[str] | None, ckpt: str) -> list[str]:
    """The representations to probe: `wanted`, or all the model has; UserError for one it lacks (z without a head)."""
    available = representation_names(projection_head(model.head))
    missing = [name for name in wanted or [] if name not in available]
    if missing:
        why = "has no projection head" if len(available) == 1 else f"has only {', '.join(available)}"
        raise UserError(
            f"checkpoint {ckpt} {why}, so it has no {missing[0]!r} to probe; pass --representations "
            f"'[{', '.join(available)}]' (or pretrain with a projection head, e.g. simclr.models.head.ProjectionHead)"
        )
    return wanted or available


def load_datamodule(ckpt: str, root: str | None = None, weights_only: bool = True) -> ImageDataModule:
    """The data module a checkpoint was trained with (its YAML config is saved in the checkpoint).

    Rebuilt here rather than with `ImageDataModule.load_from_checkpoint`: Lightning 2.6 filters the
    saved `_class_path` out of the kwargs before instantiating, so a subclass (FashionMNIST, CIFAR10, ...)
    comes back as the abstract base.
    """
    from lightning.pytorch.cli import instantiate_module

    hparams = dict(read_checkpoint(ckpt, weights_only).get("datamodule_hyper_parameters") or {})
    if "_class_path" not in hparams:
        raise UserError(
            f"checkpoint {ckpt} records no data module (not written by `simclr fit`?); pass --data.class_path and --data.init_args.root"
        )
    hparams.pop("_instantiator", None)
    if root:
        hparams["root"] = root
    return instantiate_module(ImageDataModule, hparams)
