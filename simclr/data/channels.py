"""Decoded RGB images with the channels a model reads: greyscale for a 1-channel encoder (e.g. Fashion-MNIST's)."""

from __future__ import annotations

import torch
from torch import Tensor

from simclr.errors import UserError

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, what Pillow's convert("L") uses


def as_channels(images: Tensor, channels: int) -> Tensor:
    """uint8 RGB (..., 3, H, W) -> (..., channels, H, W): unchanged for 3, greyscale (BT.601 luma) for 1."""
    if channels == images.shape[-3]:
        return images
    if channels == 1 and images.shape[-3] == 3:
        weights = torch.tensor(GREY_WEIGHTS, device=images.device).view(3, 1, 1)
        return (images.float() * weights).sum(-3, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise UserError(f"cannot turn {images.shape[-3]}-channel images into {channels}; use 3 (RGB) or 1 (greyscale)")
