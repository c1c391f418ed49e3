"""Augmentation modules: each draws its per-image parameters in `forward` and hands the pixel work to ops.py.

Parameters come from the global torch RNG on `images.device`, so `torch.manual_seed` makes a run
reproducible. Every module maps float (B, C, H, W) in [0, 1] to float (B, C, h, w) in [0, 1] and keeps
the batch shape. Our own modules are sync-free; the kornia-backed ones (cutout, rotation, noise)
draw per image too but may index the selected images internally, as kornia does.
"""

import kornia.augmentation as K
import torch
from torch import Tensor, nn

from augmentations import ops
from augmentations.errors import ConfigError, check_probability


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
        self.size = size
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, size, size)."""
        batch, _, height, width = images.shape
        boxes = ops.sample_crop_boxes(batch, height, width, self.scale, self.ratio, device=images.device)
        return ops.resized_crop(images, boxes, (self.size, self.size))


class Resize(nn.Module):
    """Deterministic bilinear resize of the whole image to size x size (no antialiasing).

    Args:
        size: output side length in pixels.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, size, size)."""
        batch, _, height, width = images.shape
        boxes = images.new_zeros(batch, 4)  # [0, 0, W, H]; filled in place, no host-to-device copy
        boxes[:, 2], boxes[:, 3] = width, height
        return ops.resized_crop(images, boxes, (self.size, self.size))


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

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        batch = images.shape[0]
        apply = _coin(batch, self.p, images)  # (B,)
        factors = [
            _uniform(batch, max(0.0, 1 - s), 1 + s, images) for s in (self.brightness, self.contrast, self.saturation)
        ]
        brightness, contrast, saturation = (torch.where(apply, f, torch.ones_like(f)) for f in factors)
        hue = torch.where(apply, _uniform(batch, -self.hue, self.hue, images), images.new_zeros(batch))
        order = torch.argsort(torch.rand(batch, 4, device=images.device), dim=1)  # (B, 4) permutations
        return ops.color_jitter(images, brightness, contrast, saturation, hue, order)


class RandomGrayscale(nn.Module):
    """Convert each image to grayscale (replicated to C channels) with probability p.

    Args:
        p: probability of converting an image.
    """

    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p = p

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.grayscale(images, _coin(images.shape[0], self.p, images))


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

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        batch = images.shape[0]
        sigma = _uniform(batch, self.sigma[0], self.sigma[1], images)
        sigma = torch.where(_coin(batch, self.p, images), sigma, torch.zeros_like(sigma))  # 0 = no blur
        return ops.gaussian_blur(images, sigma, self.kernel_size)


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

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.solarize(images, _coin(images.shape[0], self.p, images), self.threshold)


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

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, S, S) -> (B, C, S, S)."""
        batch = images.shape[0]
        k = torch.randint(1, 4, (batch,), device=images.device)
        return ops.rot90(images, torch.where(_coin(batch, self.p, images), k, torch.zeros_like(k)))


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

    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return ops.hflip(images, _coin(images.shape[0], self.p, images))


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
