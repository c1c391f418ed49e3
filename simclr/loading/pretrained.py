"""A pretrained `simclr fit` checkpoint, loaded for the commands that use one (probe, export)."""

import importlib
from pathlib import Path

import torch

from simclr.data.datamodules import ImageDataModule
from simclr.errors import UserError
from simclr.methods.base import ViewMethod
from simclr.methods.simclr import SimCLR
from simclr.models.representations import projection_head, representation_names
from simclr.safety.lightning_internals import instantiate_saved
from simclr.safety.safe_loading import check_finite, read_checkpoint


def load_pretrained(ckpt: str, map_location: str | torch.device = "cpu", weights_only: bool = True) -> ViewMethod:
    """The method (SimCLR, MoCo, BYOL, ...) of a checkpoint written by `simclr fit`, rebuilt from its saved config.

    The class is the config's `class_path` (saved as `_class_path`); checkpoints that name none are SimCLR.

    A missing file raises FileNotFoundError; a truncated, corrupt, unsafe, foreign or diverged (non-finite)
    file a one-line UserError. `weights_only=False` unpickles any object in the file and instantiates any
    class its config names: only for files the user trusts.
    """
    checkpoint = read_checkpoint(ckpt, weights_only)  # memory-mapped: cheap checks before Lightning loads it
    check_finite(checkpoint, ckpt)
    method = method_class(checkpoint["hyper_parameters"].get("_class_path"), ckpt)
    return method.load_from_checkpoint(Path(ckpt), map_location=map_location, weights_only=weights_only)


def method_class(class_path: str | None, ckpt: str) -> type[ViewMethod]:
    """The method class a checkpoint's config names (SimCLR when it names none); UserError for any other class.

    Lightning filters `_class_path` out before instantiating through the class it is called on, so the class
    is resolved here (the name was already checked against the trusted packages by `read_checkpoint`).
    """
    if class_path is None:
        return SimCLR
    module, _, name = class_path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise UserError(f"checkpoint {ckpt} names the method {class_path}, which does not import ({e})") from e
    if not (isinstance(found, type) and issubclass(found, ViewMethod)):
        raise UserError(
            f"checkpoint {ckpt} names {class_path} as its model, not a method (simclr.methods.base.ViewMethod); "
            f"pass a checkpoint written by `simclr fit`"
        )
    return found


def check_representations(model: ViewMethod, wanted: list[str] | None, ckpt: str) -> list[str]:
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
    """The data module a checkpoint was trained with (its YAML config is saved in the checkpoint), rebuilt
    as its own subclass (FashionMNIST, CIFAR10, ...; see `instantiate_saved`)."""
    hparams = dict(read_checkpoint(ckpt, weights_only).get("datamodule_hyper_parameters") or {})
    if "_class_path" not in hparams:
        raise UserError(
            f"checkpoint {ckpt} records no data module (not written by `simclr fit`?); pass --data.class_path and --data.init_args.root"
        )
    if root:
        hparams["root"] = root
    return instantiate_saved(ImageDataModule, hparams)
