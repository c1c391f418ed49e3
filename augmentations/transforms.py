"""Augmentation modules: each draws its per-image parameters in `forward` and hands the pixel work to ops.py.

Parameters come from the global torch RNG on `images.device`, so `torch.manual_seed` makes a run
reproducible. Every module maps float (B, C, H, W) in [0, 1] to float (B, C, h, w) in [0, 1], keeps the
batch shape and is sync-free. Each random module's `draw(images)` returns the per-image parameters its
`forward` applies (what the backend distribution tests compare with kornia's `forward_parameters`).
The thin kornia wrappers (cutout, rotation, noise) live in kornia_transforms.py.
"""

from typing import NamedTuple

import torch
from torch import Tensor, nn

from augmentations import ops
from augmentations.errors import ConfigError, check_probability, check_range, check_size


def _uniform(batch: int, low: float, high: float, like: Tensor) -> Tensor:
    """(B,) uniform draws in [low, high) on the device of `like`."""
    return low + (high - low) * torch.rand(batch, device=like.device, dtype=like.dtype)


def _coin(batch: int, p: float, like: Tensor) -> Tensor:
    """(B,) bool, True with probability p, on the device of `like`."""
    return torch.rand(batch, device=like.device) < p


class RandomResizedCrop(nn.Module):
    """Random crop (torchvision RandomResizedCrop box sampling) resized to size x size, bilinear.

    Args:
        size: output side length in pixels.
        scale: range of the crop area as a fraction of the image area.
        ratio: range of the crop aspect ratio width / height.
    """

    def __init__(
        self, size: int, scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)
    ) -> None:
        super().__init__()
        check_size(size, type(self).__name__)
        check_range(scale, type(self).__name__, "scale")
        check_range(ratio, type(self).__name__, "ratio")
        self.size = size
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)

    def draw(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, 4) crop boxes [x0, y0, x1, y1] in pixels (see ops.sample_crop_boxes)."""
        batch, _, height, width = images.shape
        return ops.sample_crop_boxes(batch, height, width, self.scale, self.ratio, device=images.device)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, size, size)."""
        return ops.resized_crop(images, self.draw(images), (self.size, self.size))


class Resize(nn.Module):
    """Deterministic bilinear resize of the whole image to size x size (no antialiasing).

    Args:
        size: output side length in pixels.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        check_size(size, type(self).__name__)
        self.size = size

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, size, size)."""
        batch, _, height, width = images.shape
        boxes = images.new_zeros(batch, 4)  # [0, 0, W, H]; filled in place, no host-to-device copy
        boxes[:, 2], boxes[:, 3] = width, height
        return ops.resized_crop(images, boxes, (self.size, self.size))


class JitterParams(NamedTuple):
    """Per-image colour-jitter parameters, each (B,) except `order` (B, 4); identity where `apply` is False."""

    brightness: Tensor
    contrast: Tensor
    saturation: Tensor
    hue: Tensor
    order: Tensor  # per-image permutation of [0=brightness, 1=contrast, 2=saturation, 3=hue]
    apply: Tensor  # bool: jittered at all (probability p)


class RandomColorJitter(nn.Module):
    """SimCLR colour jitter: per-image factors and per-image op order, applied with probability p.

    Factors are uniform in [max(0, 1 - s), 1 + s] for brightness, contrast and saturation, the hue shift
    uniform in [-hue, hue] (fraction of a full turn), the order a random permutation per image. Images
    not selected by p get identity factors, so the whole batch goes through one sync-free call.

    Args:
        brightness: brightness strength s.
        contrast: contrast strength s.
        saturation: saturation strength s (identity for 1-channel images).
        hue: hue strength, at most 0.5 (identity for 1-channel images).
        p: probability of jittering an image.
    """

    def __init__(
        self, brightness: float = 0.8, contrast: float = 0.8, saturation: float = 0.8, hue: float = 0.2, p: float = 0.8
    ) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        if not 0 <= hue <= 0.5:
            raise ConfigError(f"RandomColorJitter hue must be in [0, 0.5], got {hue}")
        self.brightness, self.contrast, self.saturation, self.hue, self.p = brightness, contrast, saturation, hue, p

    def draw(self, images: Tensor) -> JitterParams:
        """(B, C, H, W) -> the per-image factors, order and selection."""
        batch = images.shape[0]
        apply = _coin(batch, self.p, images)  # (B,)
        factors = [
            _uniform(batch, max(0.0, 1 - s), 1 + s, images) for s in (self.brightness, self.contrast, self.saturation)
        ]
        brightness, contrast, saturation = (torch.where(apply, f, torch.ones_like(f)) for f in factors)
        hue = torch.where(apply, _uniform(batch, -self.hue, self.hue, images), images.new_zeros(batch))
        order = torch.argsort(torch.rand(batch, 4, device=images.device), dim=1)  # (B, 4) permutations
        return JitterParams(brightness, contrast, saturation, hue, order, apply)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        params = self.draw(images)
        return ops.color_jitter(images, *params[:5])


class RandomGrayscale(nn.Module):
    """Convert each image to grayscale (replicated to C channels) with probability p.

    Args:
        p: probability of converting an image.
    """

    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p = p

    def draw(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B,) bool, which images to convert."""
        return _coin(images.shape[0], self.p, images)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.grayscale(images, self.draw(images))


class RandomGaussianBlur(nn.Module):
    """Gaussian blur with sigma uniform in `sigma` per image, applied with probability p.

    Args:
        kernel_size: odd kernel side length in pixels.
        sigma: range of the standard deviation in pixels.
        p: probability of blurring an image.
    """

    def __init__(self, kernel_size: int, sigma: tuple[float, float] = (0.1, 2.0), p: float = 0.5) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        if kernel_size % 2 != 1:
            raise ConfigError(
                f"RandomGaussianBlur kernel_size must be odd, got {kernel_size}; use e.g. {kernel_size + 1}"
            )
        self.kernel_size, self.sigma, self.p = kernel_size, tuple(sigma), p

    def draw(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B,) sigma per image in pixels, 0 for images not blurred."""
        batch = images.shape[0]
        sigma = _uniform(batch, self.sigma[0], self.sigma[1], images)
        return torch.where(_coin(batch, self.p, images), sigma, torch.zeros_like(sigma))  # 0 = no blur

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.gaussian_blur(images, self.draw(images), self.kernel_size)


class RandomSolarize(nn.Module):
    """Solarize (invert pixels >= threshold) each image with probability p.

    Args:
        threshold: pixel value in [0, 1] from which pixels are inverted.
        p: probability of solarizing an image.
    """

    def __init__(self, threshold: float = 0.5, p: float = 0.2) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.threshold, self.p = threshold, p

    def draw(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B,) bool, which images to solarize."""
        return _coin(images.shape[0], self.p, images)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.solarize(images, self.draw(images), self.threshold)


class RandomRot90(nn.Module):
    """Rotate each image by 90, 180 or 270 degrees (uniform) with probability p; square images only.

    The SimCLR paper's rotation augmentation. Sync-free: all three rotations are computed and one is
    selected per image with torch.where (kornia's RandomRotation samples a continuous angle instead).

    Args:
        p: probability of rotating an image.
    """

    def __init__(self, p: float = 1.0) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p = p

    def draw(self, images: Tensor) -> Tensor:
        """(B, C, S, S) -> (B,) long quarter turns per image, 1, 2 or 3 uniformly; 0 where not rotated."""
        batch = images.shape[0]
        k = torch.randint(1, 4, (batch,), device=images.device)
        return torch.where(_coin(batch, self.p, images), k, torch.zeros_like(k))

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, S, S) -> (B, C, S, S)."""
        return ops.rot90(images, self.draw(images))


class Sobel(nn.Module):
    """Sobel edge magnitude of the grayscale image, in [0, 1], replicated to C channels."""

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.sobel_magnitude(images)


class RandomHorizontalFlip(nn.Module):
    """Flip each image left-right with probability p.

    Ours rather than kornia's: kornia's augmentations branch on `batch_prob.any()` / `.all()` and index
    the selected images, a host sync per call on the GPU; here one `torch.where` picks per image.

    Args:
        p: probability of flipping an image.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p = p

    def draw(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B,) bool, which images to flip."""
        return _coin(images.shape[0], self.p, images)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.hflip(images, self.draw(images))
