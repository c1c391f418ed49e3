"""SimCLR augmentation presets and the paper's ablation building blocks.

Blocks return `list[nn.Module]` so they concatenate: `compose([crop(224), color(1.0)], mean, std)`.
Presets return a ViewPipeline and keep plain type hints, so they work as LightningCLI `class_path` targets.
Block probabilities: the paper's where it states them (colour: jitter 0.8 + grayscale 0.2; blur 0.5),
otherwise 1.0, i.e. always applied, as in the paper's single-transformation ablation (Figure 5).
"""

from torch import nn

from augmentations.pipeline import ViewPipeline
from augmentations.transforms import (
    RandomColorJitter,
    RandomCutout,
    RandomGaussianBlur,
    RandomGaussianNoise,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRot90,
    Resize,
    Sobel,
)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.2470, 0.2435, 0.2616]
FASHION_MNIST_MEAN = [0.2860]
FASHION_MNIST_STD = [0.3530]


def blur_kernel_size(size: int) -> int:
    """Odd kernel side about 10% of the image side ("kernel size 10% of the image height"), at least 3."""
    return max(3, int(0.1 * size) // 2 * 2 + 1)  # 224 -> 23, 96 -> 9, 32 -> 3


def crop(size: int, scale: tuple[float, float] = (0.08, 1.0)) -> list[nn.Module]:
    """Random crop and resize to size x size, then horizontal flip p=0.5 (the paper's "crop")."""
    return [RandomResizedCrop(size, scale=scale, ratio=(3 / 4, 4 / 3)), RandomHorizontalFlip(p=0.5)]


def color(strength: float = 1.0) -> list[nn.Module]:
    """The paper's "color distortion": jitter (0.8s, 0.8s, 0.8s, 0.2s) with p=0.8, then grayscale p=0.2."""
    s = strength
    return [RandomColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=0.8), RandomGrayscale(p=0.2)]


def cutout(p: float = 1.0) -> list[nn.Module]:
    """Erase one random rectangle (2-33% of the area) per image, filled with 0."""
    return [RandomCutout(p=p)]


def sobel() -> list[nn.Module]:
    """Replace images by their Sobel edge magnitude."""
    return [Sobel()]


def grayscale(p: float = 1.0) -> list[nn.Module]:
    """Convert images to grayscale."""
    return [RandomGrayscale(p=p)]


def noise(std: float = 0.1, p: float = 1.0) -> list[nn.Module]:
    """Add Gaussian noise with standard deviation `std` (pixel range [0, 1])."""
    return [RandomGaussianNoise(std=std, p=p)]


def blur(size: int, p: float = 0.5) -> list[nn.Module]:
    """Gaussian blur, sigma in [0.1, 2.0], kernel ~10% of `size` (the side of the images it sees)."""
    return [RandomGaussianBlur(blur_kernel_size(size), sigma=(0.1, 2.0), p=p)]


def rotate(p: float = 1.0) -> list[nn.Module]:
    """The paper's rotation: one of {90, 180, 270} degrees per image (torch.rot90 selected per image,
    exact and sync-free, rather than kornia's continuous-angle RandomRotation). Square images only."""
    return [RandomRot90(p=p)]


def compose(blocks: list[list[nn.Module]], mean: list[float], std: list[float]) -> ViewPipeline:
    """Concatenate blocks, in order, into one ViewPipeline."""
    return ViewPipeline([module for block in blocks for module in block], mean=mean, std=std)


def crop_only(size: int, mean: list[float] = IMAGENET_MEAN, std: list[float] = IMAGENET_STD) -> ViewPipeline:
    """Crop (+ flip) only."""
    return compose([crop(size)], mean, std)


def color_only(
    size: int | None = None,
    strength: float = 1.0,
    mean: list[float] = IMAGENET_MEAN,
    std: list[float] = IMAGENET_STD,
) -> ViewPipeline:
    """Colour distortion only; with `size`, images are first resized (whole image) to size x size."""
    resize = [Resize(size)] if size is not None else []
    return compose([resize, color(strength)], mean, std)


def simclr_imagenet(
    size: int = 224, strength: float = 1.0, mean: list[float] = IMAGENET_MEAN, std: list[float] = IMAGENET_STD
) -> ViewPipeline:
    """SimCLR ImageNet views: crop + flip, colour distortion, blur p=0.5 (kernel ~10% of size)."""
    return compose([crop(size), color(strength), blur(size, p=0.5)], mean, std)


def simclr_cifar(
    size: int = 32, strength: float = 0.5, mean: list[float] = CIFAR10_MEAN, std: list[float] = CIFAR10_STD
) -> ViewPipeline:
    """SimCLR CIFAR-10 views: crop + flip and colour distortion (strength 0.5), no blur."""
    return compose([crop(size), color(strength)], mean, std)


def simclr_fashion_mnist(
    size: int = 28,
    strength: float = 0.5,
    crop_scale: tuple[float, float] = (0.2, 1.0),
    blur_p: float = 0.0,
    mean: list[float] = FASHION_MNIST_MEAN,
    std: list[float] = FASHION_MNIST_STD,
) -> ViewPipeline:
    """Fashion-MNIST views: crop (default scale (0.2, 1): small greyscale images lose the object at 0.08)
    + flip, jitter p=0.8 (only brightness and contrast act on one channel); no grayscale; Gaussian blur
    with probability `blur_p` (0: none)."""
    s = strength
    jitter = [RandomColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=0.8)]
    return compose([crop(size, scale=crop_scale), jitter, blur(size, p=blur_p) if blur_p > 0 else []], mean, std)
