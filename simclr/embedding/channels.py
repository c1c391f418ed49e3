"""Decoded RGB images as the encoder reads them: greyscale for a 1-channel encoder (e.g. Fashion-MNIST's)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from simclr.errors import UserError


def input_channels(encoder: nn.Module) -> int:
    """The channels the encoder's first convolution reads (3 if it has none)."""
    first = next((m for m in encoder.modules() if isinstance(m, nn.Conv2d)), None)
    return int(first.in_channels) if first is not None else 3


def as_channels(images: Tensor, channels: int) -> Tensor:
    """uint8 RGB (B, 3, H, W) -> (B, channels, H, W): greyscale (ITU-R 601 weights) for a 1-channel encoder."""
    if channels == images.shape[1]:
        return images
    if channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)
        return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise UserError(f"the encoder reads {channels}-channel images; simclr embed decodes RGB (3) or greyscale (1)")
