"""Pure batched augmentation ops: float images in [0, 1], shape (B, C, H, W), one parameter set per image.

Every op is sync-free: no `.item()`, no boolean-mask indexing, no `if tensor:`. Images that an op should
leave alone are handled by identity parameters (factor 1, sigma 0, k 0) or by `torch.where` on a (B,)
mask, so a whole batch is one kernel launch per step on the GPU whatever the per-image probabilities.
Colour ops (luma, hue_shift, color_jitter, grayscale) live in color_ops.py and are re-exported here.
Random parameters are drawn elsewhere (transforms.py); only `sample_crop_boxes` draws, because its
rejection sampling is part of the semantics it reproduces.
"""

import math

import torch
import torch.nn.functional as F
from kornia.filters import sobel
from torch import Tensor

from augmentations.color_ops import LUMA_WEIGHTS, color_jitter, grayscale, hue_shift, luma  # noqa: F401 (re-exported)
from augmentations.color_ops import per_image as _per_image

SOBEL_MAX = math.sqrt(5) / 4  # largest normalised Sobel magnitude on [0, 1] images
CROP_TRIES = 10  # torchvision RandomResizedCrop draws up to 10 candidate boxes per image


def sample_crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw one RandomResizedCrop box per image, torchvision semantics, vectorised over the batch.

    For each image, CROP_TRIES candidates are drawn at once (area fraction uniform in `scale`, log aspect
    ratio uniform in log `ratio`, side lengths rounded to whole pixels); the first candidate that fits in
    the image wins. Images with no fitting candidate get torchvision's fallback: the centre crop of the
    whole image with its aspect ratio clamped to `ratio`. Draws from the global RNG on `device`.

    Args:
        batch: number of boxes B.
        height: image height H in pixels.
        width: image width W in pixels.
        scale: range of the crop area as a fraction of the image area.
        ratio: range of the crop aspect ratio width / height.
        device: device to draw on and return on.

    Returns:
        (B, 4) float boxes [x0, y0, x1, y1] in pixel units (whole pixels; the crop covers [x0, x1) x [y0, y1)).
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    target_area = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(batch, CROP_TRIES, device=device))
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(batch, CROP_TRIES, device=device))
    w = torch.round(torch.sqrt(target_area * aspect))  # (B, T)
    h = torch.round(torch.sqrt(target_area / aspect))  # (B, T)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)  # (B, T)
    first = fits.int().argmax(dim=1, keepdim=True)  # (B, 1) index of the first fitting try (0 if none)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)  # (B,)
    found = fits.any(dim=1)  # (B,)

    # torchvision: i = randint(0, H - h + 1), j = randint(0, W - w + 1); floor(u * n) is uniform on 0..n-1
    y0 = torch.floor(torch.rand(batch, device=device) * (height - h + 1)).clamp(max=height - h)
    x0 = torch.floor(torch.rand(batch, device=device) * (width - w + 1)).clamp(max=width - w)
    drawn = torch.stack([x0, y0, x0 + w, y0 + h], dim=1)  # (B, 4)

    # Fallback centre crop: depends only on (H, W) so it is plain Python; scalars go into torch.where as
    # kernel arguments (a torch.tensor(..., device=cuda) would be a synchronising host-to-device copy).
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height
    fx0, fy0 = (width - fw) // 2, (height - fh) // 2
    fallback = (fx0, fy0, fx0 + fw, fy0 + fh)
    return torch.stack([torch.where(found, drawn[:, i], float(fallback[i])) for i in range(4)], dim=1)


def resized_crop(images: Tensor, boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop one box per image and resize every crop to `size`, bilinear, in one sampling call.

    kornia's RandomResizedCrop default cropping mode ("slice") loops over the batch in Python, one
    crop + resize per image; here every crop becomes one row of an affine grid, so the whole batch is a
    single `F.affine_grid` + `F.grid_sample` call. No antialiasing (like torchvision's antialias=False).
    Samples falling outside the image (only at crop edges) are clamped to the border.

    Args:
        images: (B, C, H, W) float.
        boxes: (B, 4) float [x0, y0, x1, y1] in pixel units, edges of the crop (pixel i spans [i, i+1)).
        size: output (h, w).

    Returns:
        (B, C, h, w) crops.
    """
    batch, channels, height, width = images.shape
    boxes = boxes.to(images.dtype)
    x0, y0, x1, y1 = boxes.unbind(dim=1)  # (B,) each
    # align_corners=False maps pixel edge u in [0, W] to 2u/W - 1; output pixel centres span the box.
    theta = torch.zeros(batch, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = (x1 - x0) / width
    theta[:, 0, 2] = (x0 + x1) / width - 1
    theta[:, 1, 1] = (y1 - y0) / height
    theta[:, 1, 2] = (y0 + y1) / height - 1
    grid = F.affine_grid(theta, [batch, channels, size[0], size[1]], align_corners=False)  # (B, h, w, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels, one per sigma; sigma <= 0 gives the delta (identity) kernel.

    Args:
        sigma: (B,) standard deviations in pixels.
        kernel_size: odd kernel length K.

    Returns:
        (B, K) kernels summing to 1.
    """
    x = torch.arange(kernel_size, device=sigma.device, dtype=sigma.dtype) - kernel_size // 2  # (K,)
    positive = sigma > 0
    safe = torch.where(positive, sigma, torch.ones_like(sigma))[:, None]  # (B, 1), no division by 0
    kernel = torch.exp(-(x**2) / (2 * safe**2))  # (B, K)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    delta = (x == 0).to(sigma.dtype).expand_as(kernel)
    return torch.where(positive[:, None], kernel, delta)


def gaussian_blur(images: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Gaussian blur with a per-image sigma: separable grouped convolution, reflect padding.

    The batch is folded into channels, (1, B*C, H, W), so one grouped conv (groups=B*C) applies each
    image's own kernel. sigma <= 0 gives a delta kernel (exact identity), so blurring with probability p
    is done sync-free by setting sigma to 0 for unselected images instead of indexing the selected ones.

    Args:
        images: (B, C, H, W) float.
        sigma: (B,) standard deviation in pixels per image; <= 0 means no blur.
        kernel_size: odd kernel size K (< H and < W, for reflect padding).

    Returns:
        (B, C, H, W) blurred images.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    batch, channels, height, width = images.shape
    kernel = gaussian_kernels(sigma.to(images), kernel_size)  # (B, K)
    kernel = kernel.repeat_interleave(channels, dim=0)  # (B*C, K), image b's kernel for each channel
    pad = kernel_size // 2
    x = images.reshape(1, batch * channels, height, width)
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, kernel[:, None, None, :], groups=batch * channels)  # horizontal pass
    x = F.conv2d(x, kernel[:, None, :, None], groups=batch * channels)  # vertical pass
    return x.reshape(batch, channels, height, width)


def hflip(images: Tensor, apply: Tensor) -> Tensor:
    """Flip selected images left-right.

    Args:
        images: (B, C, H, W).
        apply: (B,) bool, which images to flip.

    Returns:
        (B, C, H, W).
    """
    return torch.where(_per_image(apply), images.flip(-1), images)


def solarize(images: Tensor, apply: Tensor, threshold: float = 0.5) -> Tensor:
    """Invert pixels >= threshold in selected images (torchvision solarize).

    Args:
        images: (B, C, H, W) float in [0, 1].
        apply: (B,) bool, which images to solarize.
        threshold: pixels >= threshold become 1 - x.

    Returns:
        (B, C, H, W).
    """
    return torch.where(_per_image(apply) & (images >= threshold), 1 - images, images)


def rot90(images: Tensor, k: Tensor) -> Tensor:
    """Rotate each image by k[b] quarter turns (counter-clockwise), selected per image with torch.where.

    Args:
        images: (B, C, S, S) float, square.
        k: (B,) long in {0, 1, 2, 3}; 0 is the identity.

    Returns:
        (B, C, S, S).
    """
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rot90 needs square images, got {images.shape[-2]}x{images.shape[-1]}")
    k4 = _per_image(k.to(images.device) % 4)
    out = images
    for turns in (1, 2, 3):
        out = torch.where(k4 == turns, torch.rot90(images, turns, dims=(-2, -1)), out)
    return out


def sobel_magnitude(images: Tensor) -> Tensor:
    """Sobel edge magnitude of the grayscale image, rescaled to [0, 1] and replicated to C channels.

    kornia's normalised Sobel kernels (weights / 8) give a magnitude of at most sqrt(5) / 4 on [0, 1]
    images (reached by a corner such as [[0, 0, 0], [0, 0, 1], [1, 1, 1]]; a straight step edge gives 0.5),
    so dividing by sqrt(5) / 4 maps it onto [0, 1] with the same scale for every image.

    Args:
        images: (B, C, H, W) float in [0, 1], C in {1, 3}.

    Returns:
        (B, C, H, W) edge magnitudes in [0, 1].
    """
    edges = sobel(luma(images), normalized=True) / SOBEL_MAX  # (B, 1, H, W)
    return edges.clamp(0, 1).expand_as(images).contiguous()
