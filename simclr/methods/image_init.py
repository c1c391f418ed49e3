"""Initialise an image tower from a file, for LiT (Zhai et al. 2022: "Locked-image text tuning ... teaches a text
model to read out good representations from a pre-trained image model").

Accepted files, read with `torch.load(weights_only=True)` (`simclr.safety.safe_loading`), so no code in them runs:
- a checkpoint of this toolkit (`simclr fit` with SimCLR, MoCo, BYOL, ImageText ...): its `encoder.*` weights;
- a plain state dict in torchvision's layout (`simclr export`, or `torchvision.models.resnet18().state_dict()`):
  loaded into the encoder's torchvision network; the classifier entries (our encoders replace the classifier
  by `nn.Identity`) are dropped.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.safety.checkpoint_files import state_dict_differences
from simclr.safety.safe_loading import read_checkpoint_file

ENCODER_PREFIX = "encoder."  # where a LightningModule of this toolkit keeps the image encoder's weights


def encoder_weights(checkpoint: dict, path: str | Path) -> tuple[dict[str, Tensor], bool]:
    """(weights, whether they are in torchvision's layout) from a toolkit checkpoint or a plain state dict."""
    state = checkpoint.get("state_dict")
    if isinstance(state, dict):
        weights = {k.removeprefix(ENCODER_PREFIX): v for k, v in state.items() if k.startswith(ENCODER_PREFIX)}
        if not weights:
            raise UserError(
                f"image_init {path} is a checkpoint without encoder.* weights; pass a checkpoint of `simclr fit` "
                f"(SimCLR, MoCo, BYOL) or a torchvision state dict (`simclr export`)"
            )
        return weights, False
    if checkpoint and all(isinstance(v, Tensor) for v in checkpoint.values()):
        return dict(checkpoint), True
    raise UserError(
        f"image_init {path} holds neither a `simclr fit` checkpoint nor a state dict of tensors; pass a .ckpt of "
        f"`simclr fit` or a torchvision state dict (`simclr export`)"
    )


def _without_replaced_classifier(weights: dict[str, Tensor], net: nn.Module) -> dict[str, Tensor]:
    """`weights` less the entries of modules that `net` has replaced by nn.Identity (its classifier)."""
    own = net.state_dict()

    def dropped(key: str) -> bool:
        owner = key.rpartition(".")[0]
        try:
            return key not in own and isinstance(net.get_submodule(owner), nn.Identity)
        except AttributeError:
            return False

    return {k: v for k, v in weights.items() if not dropped(k)}


def check_same_architecture(weights: dict[str, Tensor], target: nn.Module, path: str | Path) -> None:
    """One-line UserError when `weights` would not load into `target` with strict=True."""
    problems = state_dict_differences(weights, target.state_dict(), file="the file", model="model.encoder")
    if problems:
        more = f" (and {len(problems) - 1} more differences)" if len(problems) > 1 else ""
        raise UserError(
            f"image_init {path} is from another architecture: {problems[0]}{more}; set model.encoder to the encoder "
            f"config the file was trained with (config.yaml in its run folder)"
        )


def load_image_init(encoder: nn.Module, path: str | Path) -> None:
    """Copy the weights of `path` into `encoder` in place (so an optimizer built already keeps its parameters).

    Args:
        encoder: the image tower (ResNetEncoder, TorchvisionEncoder: a torchvision network at `.net`).
        path: a `simclr fit` checkpoint or a torchvision state dict file.

    Raises:
        FileNotFoundError: no file at `path`.
        UserError: the file is unreadable, unsafe, holds no encoder, or is of another architecture.
    """
    weights, torchvision_layout = encoder_weights(read_checkpoint_file(path), path)
    target = encoder
    if torchvision_layout and isinstance(getattr(encoder, "net", None), nn.Module):
        target = encoder.net
        weights = _without_replaced_classifier(weights, target)
    check_same_architecture(weights, target, path)
    with torch.no_grad():
        target.load_state_dict(weights, strict=True)
