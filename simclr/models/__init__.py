"""Encoders (images -> h: ResNet, any torchvision backbone), projection heads (h -> z) and the names of the
representations a model has (h, head_1, ..., z)."""

from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead
from simclr.models.text_transformer import TextTransformer
from simclr.models.torchvision_encoder import TorchvisionEncoder

__all__ = ["ProjectionHead", "ResNetEncoder", "TextTransformer", "TorchvisionEncoder"]
