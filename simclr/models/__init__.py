"""Encoders (images -> h) and projection heads (h -> z)."""

from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead

__all__ = ["ProjectionHead", "ResNetEncoder"]
