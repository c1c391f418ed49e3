"""SimCLR augmentation presets and the paper's ablation building blocks.

Blocks return `list[nn.Module]` so they concatenate: `compose([crop(224), color(1.0)], mean, std)`.
Presets return a ViewPipeline and keep plain type hints, so they work as LightningCLI `class_path` targets.
Block probabilities: the paper's where it states them (colour: jitter 0.8 + grayscale 0.2; blur 0.5),
otherwise 1.0, i.e. always applied, as in the paper's single-transformation ablation (Figure 5).

Every block and preset takes `backend`: "fast" (default) builds our sync-free ops (augmentations.transforms),
"kornia" the stock `kornia.augmentation` modules with the same parameters (augmentations.kornia_backend
lists what still differs). Both draw parameters per image.
"""

from typing import Literal

from torch import nn

from augmentations import kornia_backend
from augmentations.errors import ConfigError
from augmentations.kornia_transforms import RandomCutout, RandomGaussianNoise
from augmentations.pipeline import ViewPipeline
from augmentations.transforms import (
    RandomColorJitter,
    RandomGaussianBlur,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRot90,
    Resize,
    Sobel,
)

Backend = Literal["fast", "kornia"]
BACKENDS = ("fast", "kornia")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.2470, 0.2435, 0.2616]
FASHION_MNIST_MEAN = [0.2860]
FASHION_MNIST_STD = [0.3530]


def blur_kernel_size(size: int) -> int:
    """Odd kernel side about 10% of the image side ("kernel size 10% of the image height"), at least 3."""
    return max(3, int(0.1 * size) // 2 * 2 + 1)  # 224 -> 23, 96 -> 9, 32 -> 3


def check_backend(backend: str) -> bool:
    """True for "kornia", False for "fast"; a ConfigError naming the choices otherwise."""
    if backend not in BACKENDS:
        raise ConfigError(f"augmentation backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend == "kornia"


def crop(size: int, scale: tuple[float, float] = (0.08, 1.0), backend: Backend = "fast") -> list[nn.Module]:
    """Random crop and resize to size x size, then horizontal flip p=0.5 (the paper's "crop")."""
    ratio = (3 / 4, 4 / 3)
    if check_backend(backend):
        return kornia_backend.crop(size, scale, ratio)
    return [RandomResizedCrop(size, scale=scale, ratio=ratio), RandomHorizontalFlip(p=0.5)]


def jitter(strength: float = 1.0, p: float = 0.8, channels: int = 3, backend: Backend = "fast") -> list[nn.Module]:
    """Colour jitter (0.8s, 0.8s, 0.8s, 0.2s) with probability p; saturation and hue act on 3 channels only."""
    s = strength
    if check_backend(backend):
        return [kornia_backend.jitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=p, channels=channels)]
    return [RandomColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=p)]


def color(strength: float = 1.0, channels: int = 3, backend: Backend = "fast") -> list[nn.Module]:
    """The paper's "color distortion": jitter (0.8s, 0.8s, 0.8s, 0.2s) with p=0.8, then grayscale p=0.2."""
    return jitter(strength, 0.8, channels, backend) + grayscale(p=0.2, backend=backend)


def cutout(p: float = 1.0, backend: Backend = "fast") -> list[nn.Module]:
    """Erase one random rectangle (2-33% of the area) per image, filled with 0 (kornia's in both backends)."""
    check_backend(backend)
    return [RandomCutout(p=p)]


def sobel(backend: Backend = "fast") -> list[nn.Module]:
    """Replace images by their Sobel edge magnitude (kornia.filters.sobel in both backends)."""
    check_backend(backend)
    return [Sobel()]


def grayscale(p: float = 1.0, backend: Backend = "fast") -> list[nn.Module]:
    """Convert images to grayscale."""
    return [kornia_backend.grayscale(p) if check_backend(backend) else RandomGrayscale(p=p)]


def noise(std: float = 0.1, p: float = 1.0, backend: Backend = "fast") -> list[nn.Module]:
    """Add Gaussian noise with standard deviation `std` (pixel range [0, 1]; kornia's in both backends)."""
    check_backend(backend)
    return [RandomGaussianNoise(std=std, p=p)]


def blur(size: int, p: float = 0.5, backend: Backend = "fast") -> list[nn.Module]:
    """Gaussian blur, sigma in [0.1, 2.0], kernel ~10% of `size` (the side of the images it sees)."""
    kernel, sigma = blur_kernel_size(size), (0.1, 2.0)
    if check_backend(backend):
        return [kornia_backend.blur(kernel, sigma, p)]
    return [RandomGaussianBlur(kernel, sigma=sigma, p=p)]


def rotate(p: float = 1.0, backend: Backend = "fast") -> list[nn.Module]:
    """The paper's rotation: one of {90, 180, 270} degrees per image (fast: torch.rot90 selected per image,
    exact, uniform and sync-free; kornia: RandomRotation90, 180 degrees twice as likely). Square images only."""
    return [kornia_backend.rotate(p) if check_backend(backend) else RandomRot90(p=p)]


def compose(blocks: list[list[nn.Module]], mean: list[float], std: list[float]) -> ViewPipeline:
    """Concatenate blocks, in order, into one ViewPipeline."""
    return ViewPipeline([module for block in blocks for module in block], mean=mean, std=std)


def crop_only(
    size: int, mean: list[float] = IMAGENET_MEAN, std: list[float] = IMAGENET_STD, backend: Backend = "fast"
) -> ViewPipeline:
    """Crop (+ flip) only."""
    return compose([crop(size, backend=backend)], mean, std)


def color_only(
    size: int | None = None,
    strength: float = 1.0,
    mean: list[float] = IMAGENET_MEAN,
    std: list[float] = IMAGENET_STD,
    backend: Backend = "fast",
) -> ViewPipeline:
    """Colour distortion only; with `size`, images are first resized (whole image) to size x size."""
    resize = [] if size is None else [kornia_backend.resize(size) if check_backend(backend) else Resize(size)]
    return compose([resize, color(strength, len(mean), backend)], mean, std)


def simclr_imagenet(
    size: int = 224,
    strength: float = 1.0,
    mean: list[float] = IMAGENET_MEAN,
    std: list[float] = IMAGENET_STD,
    backend: Backend = "fast",
) -> ViewPipeline:
    """SimCLR ImageNet views: crop + flip, colour distortion, blur p=0.5 (kernel ~10% of size)."""
    blocks = [crop(size, backend=backend), color(strength, len(mean), backend), blur(size, 0.5, backend)]
    return compose(blocks, mean, std)


def simclr_cifar(
    size: int = 32,
    strength: float = 0.5,
    mean: list[float] = CIFAR10_MEAN,
    std: list[float] = CIFAR10_STD,
    backend: Backend = "fast",
) -> ViewPipeline:
    """SimCLR CIFAR-10 views: crop + flip and colour distortion (strength 0.5), no blur."""
    return compose([crop(size, backend=backend), color(strength, len(mean), backend)], mean, std)


def simclr_fashion_mnist(
    size: int = 28,
    strength: float = 0.5,
    crop_scale: tuple[float, float] = (0.2, 1.0),
    blur_p: float = 0.0,
    mean: list[float] = FASHION_MNIST_MEAN,
    std: list[float] = FASHION_MNIST_STD,
    backend: Backend = "fast",
) -> ViewPipeline:
    """Fashion-MNIST views: crop (default scale (0.2, 1): small greyscale images lose the object at 0.08)
    + flip, jitter p=0.8 (only brightness and contrast act on one channel); no grayscale; Gaussian blur
    with probability `blur_p` (0: none)."""
    blocks = [
        crop(size, scale=crop_scale, backend=backend),
        jitter(strength, p=0.8, channels=len(mean), backend=backend),
        blur(size, blur_p, backend) if blur_p > 0 else [],
    ]
    return compose(blocks, mean, std)
