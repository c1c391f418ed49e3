"""The preset blocks on stock Kornia (`backend="kornia"`): the same parameters as the fast ops, kornia's code.

Each function returns `kornia.augmentation` modules that go straight into a ViewPipeline (float images in
[0, 1], parameters drawn per image, `same_on_batch=False`). What still differs from the fast backend
(augmentations.transforms), by design of kornia rather than by parameter:

- colour jitter: kornia draws one order of brightness / contrast / saturation / hue per call (the whole
  batch), the fast op one per image as torchvision's per-image ColorJitter does; the factor ranges are the same.
  Kornia's ColorJitter refuses 1-channel images when saturation or hue is non-zero, so 1-channel blocks
  pass 0 for them (the fast op treats them as identity on one channel: the same views).
- resized crop: the boxes follow torchvision's rule in both (10 tries, centre-crop fallback); kornia warps
  the box corners onto the output corners (align_corners=True), the fast op maps pixel edges onto pixel
  edges, so samples fall up to half a pixel apart. Resize: the same difference.
- rotation: kornia's RandomRotation90 draws `times` from a continuous range and rounds it, so with
  times (1, 3) a 180 degree turn is twice as likely as 90 or 270 (the fast op: 1/3 each); it cannot be
  made uniform within its allowed range (-3, 3).
- probabilities: kornia transforms only the images its coin selects, by indexing them (a host sync per
  call on the GPU); the fast ops apply identity parameters instead and never sync. Same distribution.
- cutout, noise and Sobel use the same kornia-based modules in both backends.
"""

import kornia.augmentation as K
from torch import nn

from augmentations.errors import check_probability, check_range, check_size


def crop(size: int, scale: tuple[float, float], ratio: tuple[float, float]) -> list[nn.Module]:
    """Random resized crop to size x size (bilinear), then horizontal flip p=0.5.

    cropping_mode "resample" warps the whole batch in one call; kornia's default "slice" crops and resizes
    one image at a time in a Python loop.
    """
    check_size(size, "RandomResizedCrop (kornia)")
    check_range(scale, "RandomResizedCrop (kornia)", "scale")
    check_range(ratio, "RandomResizedCrop (kornia)", "ratio")
    return [
        K.RandomResizedCrop((size, size), scale=tuple(scale), ratio=tuple(ratio), cropping_mode="resample"),
        K.RandomHorizontalFlip(p=0.5),
    ]


def jitter(brightness: float, contrast: float, saturation: float, hue: float, p: float, channels: int) -> nn.Module:
    """Kornia's torchvision-style ColorJitter; saturation and hue dropped for 1-channel images."""
    check_probability(p, "ColorJitter (kornia)")
    if channels == 1:
        saturation, hue = 0.0, 0.0  # no colour to saturate or rotate (kornia would refuse the input)
    return K.ColorJitter(brightness, contrast, saturation, hue, p=p)


def grayscale(p: float) -> nn.Module:
    """Luma (ITU-R 601) replicated to 3 channels with probability p; 1-channel images pass unchanged."""
    check_probability(p, "RandomGrayscale (kornia)")
    return K.RandomGrayscale(p=p)


def blur(kernel_size: int, sigma: tuple[float, float], p: float) -> nn.Module:
    """Gaussian blur with sigma uniform in `sigma` per image, reflect padding, probability p."""
    check_probability(p, "RandomGaussianBlur (kornia)")
    return K.RandomGaussianBlur(kernel_size, tuple(sigma), p=p)


def rotate(p: float) -> nn.Module:
    """A quarter-turn rotation (90/180/270 degrees, 1:2:1, see the module docstring) with probability p."""
    check_probability(p, "RandomRotation90 (kornia)")
    return K.RandomRotation90(times=(1, 3), p=p)


def resize(size: int) -> nn.Module:
    """Whole image resized to size x size, bilinear, no antialiasing."""
    check_size(size, "Resize (kornia)")
    return K.Resize((size, size), antialias=False)
