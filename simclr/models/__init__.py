"""Encoders (images -> h) and projection heads (h -> z)."""

from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead
from simclr.models.torchvision_encoder import TorchvisionEncoder

__all__ = ["ProjectionHead", "ResNetEncoder", "TorchvisionEncoder"]
