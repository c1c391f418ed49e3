"""`simclr.load(ckpt)`: any checkpoint of this toolkit as one small handle.

    model = simclr.load("runs/demo/checkpoints/last.ckpt")
    h = model.embed(images)                     # uint8 or float (B, C, H, W) -> (B, feature_dim)
    z = model.embed(images, "z")                # or "head_1", ... for a pretraining checkpoint
    data = model.datamodule(root="/data/fmnist")  # the data module it was trained on

Pretraining checkpoints of every method (SimCLR, MoCo, BYOL), `simclr finetune` and `simclr distill`
checkpoints all load; the file is read as an untrusted one (weights only, classes on the exact list, finite
weights), as every command reads it. `weights_only=False` lifts those checks for a file you trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from torch import Tensor, nn

from simclr.data.base import ImageDataModule
from simclr.errors import UserError
from simclr.loading.checkpoints import is_finetuned, load_datamodule, load_finetuned, load_pretrained
from simclr.models.representations import projection_head, representation_names
from simclr.safety.safe_loading import read_checkpoint_file


@dataclass
class Pretrained:
    """A loaded checkpoint: the network, its evaluation view, and where it came from.

    Attributes:
        path: the checkpoint file.
        kind: "pretraining" (`simclr fit`), "finetune" (`simclr finetune`) or "distill" (`simclr distill`).
        method: the class that trained the weights ("SimCLR", "MoCo", "BYOL", "FineTuner").
        model: the LightningModule (the method, or the fine-tuned network), in eval mode.
        encoder: f(.), normalised images (B, C, H, W) -> h (B, feature_dim).
        head_layers: the projection head's layers in order (h -> head_1 -> ... -> z); for a fine-tuned
            network the head layers it kept under its classifier. Empty when there are none.
        normalise: the evaluation view, uint8 or float [0, 1] (B, C, H, W) -> normalised float (B, C, H, W).
        weights_only: how the file was read (the data module is read back the same way).
    """

    path: Path
    kind: str
    method: str
    model: L.LightningModule
    encoder: nn.Module
    head_layers: list[nn.Module] = field(default_factory=list)
    normalise: nn.Module | None = None
    weights_only: bool = True

    @property
    def representations(self) -> list[str]:
        """What `embed` can return: "h", then "head_1", ... (and "z", the last layer of a pretraining head)."""
        if self.kind == "pretraining":
            return representation_names(projection_head(self.model.head))
        return ["h"] + [f"head_{i}" for i in range(1, len(self.head_layers) + 1)]

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters(), torch.empty(0)).device

    def to(self, device: str | torch.device) -> Pretrained:
        """Moves the network to `device`; returns self."""
        self.model.to(device)
        return self

    def datamodule(self, root: str | None = None) -> ImageDataModule:
        """The data module the checkpoint was trained on (its saved config), with its data at `root` if given."""
        return load_datamodule(str(self.path), root, self.weights_only)

    @torch.inference_mode()
    def embed(self, images: Tensor, representation: str = "h", batch_size: int = 1024) -> Tensor:
        """Frozen features of a batch of images, in eval mode (BatchNorm uses its running statistics).

        Args:
            images: uint8 (B, C, H, W) in [0, 255] or float (B, C, H, W) in [0, 1], on any device.
            representation: "h" (the encoder's output), "head_i" or "z" (see `representations`).
            batch_size: images per forward pass.

        Returns:
            (B, D) float32 on the device of the network.
        """
        if representation not in self.representations:
            raise UserError(
                f"{self.path} has no representation {representation!r}; pass one of {', '.join(self.representations)}"
            )
        depth = self.representations.index(representation)  # how many head layers to run after the encoder
        was_training = self.model.training
        self.model.eval()
        try:
            out = []
            for chunk in images.split(batch_size):
                x = self.normalise(chunk.to(self.device))
                if getattr(self.model, "channels_last", False):
                    x = x.contiguous(memory_format=torch.channels_last)
                y = self.encoder(x)
                for layer in self.head_layers[:depth]:
                    y = layer(y)
                out.append(y.float())
            return torch.cat(out)
        finally:
            self.model.train(was_training)


def load(ckpt: str | Path, map_location: str | torch.device = "cpu", weights_only: bool = True) -> Pretrained:
    """Any checkpoint of this toolkit as a `Pretrained` handle (see the module docstring).

    Raises:
        FileNotFoundError: no file at `ckpt`.
        UserError: the file is unreadable, unsafe, diverged, or not a checkpoint of this toolkit.
    """
    path = Path(ckpt)
    checkpoint = read_checkpoint_file(path, weights_only)
    if is_finetuned(checkpoint):
        kind = "distill" if "teacher" in (checkpoint.get("hyper_parameters") or {}) else "finetune"
        model = load_finetuned(path, map_location, weights_only)
        head_layers = list(model.head)
        normalise = model.augment
    else:
        kind = "pretraining"
        model = load_pretrained(str(path), map_location, weights_only)
        head = projection_head(model.head)
        head_layers = list(head.layers) if head is not None else []
        normalise = model.augment
    model.eval()
    return Pretrained(
        path=path,
        kind=kind,
        method=type(model).__name__,
        model=model,
        encoder=model.encoder,
        head_layers=head_layers,
        normalise=_Normalise(normalise),
        weights_only=weights_only,
    )


class _Normalise(nn.Module):
    """The model's evaluation view as a module: `augment.normalise` (uint8 or float images -> normalised float)."""

    def __init__(self, augment: nn.Module):
        super().__init__()
        self.augment = augment

    def forward(self, images: Tensor) -> Tensor:
        return self.augment.normalise(images)
