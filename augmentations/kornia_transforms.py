"""Thin wrappers of kornia augmentations used by the ablation blocks: our option checks, [0, 1] output.

Kornia draws per image too, but indexes the images its probability selects (a host sync on the GPU);
these transforms are rare in SimCLR recipes, so they are not re-implemented sync-free.
"""

import kornia.augmentation as K
from torch import Tensor, nn

from augmentations.errors import check_probability, check_range


class RandomCutout(nn.Module):
    """Erase one random rectangle per image to `value` with probability p (kornia RandomErasing).

    Args:
        scale: range of the erased area as a fraction of the image area.
        ratio: range of the erased rectangle's aspect ratio.
        value: fill value in [0, 1].
        p: probability of erasing in an image.
    """

    def __init__(
        self,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float = 0.0,
        p: float = 0.5,
    ) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        check_range(scale, type(self).__name__, "scale")
        check_range(ratio, type(self).__name__, "ratio")
        self.erase = K.RandomErasing(scale=tuple(scale), ratio=tuple(ratio), value=value, p=p, keepdim=True)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.erase(images)


class RandomRotation(nn.Module):
    """Rotate each image by an angle uniform in [-degrees, degrees] with probability p (kornia), zero fill.

    Args:
        degrees: largest rotation angle in degrees.
        p: probability of rotating an image.
    """

    def __init__(self, degrees: float = 30.0, p: float = 0.5) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.rotate = K.RandomRotation(degrees=degrees, p=p, keepdim=True)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.rotate(images).clamp(0, 1)


class RandomGaussianNoise(nn.Module):
    """Add per-pixel Gaussian noise to each image with probability p (kornia), clamped to [0, 1].

    Args:
        mean: noise mean, in units of the [0, 1] pixel range.
        std: noise standard deviation, in units of the [0, 1] pixel range.
        p: probability of adding noise to an image.
    """

    def __init__(self, mean: float = 0.0, std: float = 0.1, p: float = 0.5) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.noise = K.RandomGaussianNoise(mean=mean, std=std, p=p, keepdim=True)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.noise(images).clamp(0, 1)
