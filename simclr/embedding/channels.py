"""The channels an encoder reads (`simclr.data.channels.as_channels` converts decoded RGB images to them)."""

from __future__ import annotations

from torch import nn


def input_channels(encoder: nn.Module) -> int:
    """The channels the encoder's first convolution reads (3 if it has none)."""
    first = next((m for m in encoder.modules() if isinstance(m, nn.Conv2d)), None)
    return int(first.in_channels) if first is not None else 3
