"""Pure batched colour ops: float images in [0, 1], shape (B, C, H, W) with C in {1, 3}, one parameter set
per image; sync-free (no `.item()`, no boolean-mask indexing), per-image choices made with `torch.where`.
Re-exported by augmentations.ops, where the other pixel ops live.
"""

import torch
from torch import Tensor

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale (0.2989 ~ 0.299)


def per_image(x: Tensor) -> Tensor:
    """(B,) -> (B, 1, 1, 1) so a per-image value broadcasts over an image batch."""
    return x.reshape(-1, 1, 1, 1)


def check_color_channels(images: Tensor) -> int:
    channels = images.shape[-3]
    if channels not in (1, 3):
        raise ValueError(f"colour ops need 1 or 3 channels, got {channels}")
    return channels


def luma(images: Tensor) -> Tensor:
    """ITU-R 601 luma of RGB images (the image itself when C == 1).

    Args:
        images: (B, C, H, W) with C in {1, 3}.

    Returns:
        (B, 1, H, W) grayscale.
    """
    if check_color_channels(images) == 1:
        return images
    r, g, b = images.unbind(dim=-3)
    return (LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b).unsqueeze(-3)


def hue_shift(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate the HSV hue of RGB images by a per-image fraction of a full turn (torchvision adjust_hue).

    Written here because only the hue moves: V = max and chroma C = max - min are kept, so the HSV round
    trip reduces to the hue angle H in sextants and `V - C * clamp(min(k, 4 - k), 0, 1)` per channel with
    k = (n + H) mod 6, n = 5, 3, 1 for R, G, B (the standard closed form of HSV -> RGB); about half the
    work of kornia's rgb_to_hsv + hsv_to_rgb. Gray pixels (C = 0) stay unchanged.

    Args:
        images: (B, 3, H, W) float in [0, 1].
        shift: (B,) hue shift in turns, in [-0.5, 0.5]; 0 is the identity.

    Returns:
        (B, 3, H, W) in [0, 1].
    """
    r, g, b = images.unbind(dim=-3)  # (B, H, W) each
    value, channel = images.max(dim=-3)  # (B, H, W); ties pick the first channel, like torchvision
    chroma = value - images.amin(dim=-3)  # (B, H, W)
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    # hue in sextants: (g - b) / C on the red sextants, 2 + (b - r) / C on green, 4 + (r - g) / C on blue
    difference = torch.where(channel == 0, g - b, torch.where(channel == 1, b - r, r - g))
    sextant = difference / safe + 2 * channel + 6 * shift.to(images.dtype).reshape(-1, 1, 1)  # (B, H, W)
    n = torch.arange(5, 0, -2, dtype=images.dtype, device=images.device).reshape(1, 3, 1, 1)  # R, G, B: 5, 3, 1
    k = (n + sextant.unsqueeze(-3)).remainder_(6)  # (B, 3, H, W) in [0, 6)
    ramp = torch.minimum(k, 4 - k).clamp_(0, 1)  # (B, 3, H, W)
    return torch.addcmul(value.unsqueeze(-3), chroma.unsqueeze(-3), ramp, value=-1).clamp_(0, 1)


def _blend(images: Tensor, op: Tensor, factor: Tensor) -> Tensor:
    """One brightness / contrast / saturation step, chosen per image; `f * x + (1 - f) * target`.

    Args:
        images: (B, C, H, W) float in [0, 1], C in {1, 3}.
        op: (B,) long, 0 = brightness (target 0), 1 = contrast (target: the image's mean luma),
            2 = saturation (target: the per-pixel luma); any other value leaves the image unchanged.
        factor: (B,) blend factor; 1 leaves the image unchanged.

    Returns:
        (B, C, H, W) in [0, 1].
    """
    gray = luma(images)  # (B, 1, H, W)
    mean = gray.mean(dim=(-3, -2, -1), keepdim=True)  # (B, 1, 1, 1)
    op4 = per_image(op)
    target = torch.where(op4 == 0, torch.zeros_like(mean), torch.where(op4 == 1, mean, gray))
    blend = per_image(torch.where(op <= 2, factor, torch.ones_like(factor)))  # 1 keeps x exactly
    return torch.addcmul((1 - blend) * target, blend, images).clamp_(0, 1)  # one full-size pass + clamp


def color_jitter(
    images: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor, order: Tensor
) -> Tensor:
    """Colour jitter with per-image factors and a per-image order of the four ops (torchvision semantics).

    kornia's ColorJitter draws one op order per batch; SimCLR (torchvision ColorJitter per image) draws one
    per image. Without a per-sample loop: brightness, contrast and saturation are all `f * x + (1 - f) *
    target` (target 0, mean grayscale, per-pixel grayscale), so one blend step can apply a different one
    to each image (`_blend`). Each image has its hue shift at one place in its order, so the batch goes
    through three blend steps for the ops before the hue (identity for an image once its hue is due),
    one HSV round trip for everybody, then three blend steps for the ops after it: one hue conversion
    instead of one per position (4x fewer HSV round trips, the costly part). For C == 1, saturation and
    hue are the identity, so only brightness and contrast are applied, in the image's order (2 steps).
    Values are clamped to [0, 1] after each op, as torchvision does.

    Args:
        images: (B, C, H, W) float in [0, 1], C in {1, 3}.
        brightness: (B,) factor, 1 = identity; x * b.
        contrast: (B,) factor, 1 = identity; blend with the image's mean grayscale value.
        saturation: (B,) factor, 1 = identity; blend with the per-pixel grayscale.
        hue: (B,) shift in [-0.5, 0.5] of a full turn, 0 = identity; rotation of the HSV hue.
        order: (B, 4) long, per-image permutation of [0=brightness, 1=contrast, 2=saturation, 3=hue].

    Returns:
        (B, C, H, W) jittered images in [0, 1].
    """
    channels = check_color_channels(images)
    factors = torch.stack([brightness, contrast, saturation], dim=1).to(images.dtype)  # (B, 3)
    order = order.to(device=images.device, dtype=torch.long)
    if channels == 1:
        rank = order.argsort(dim=1)  # (B, 4) position of each op in the image's order
        first = torch.where(rank[:, 0] < rank[:, 1], 0, 1)  # (B,) brightness or contrast, whichever is first
        for op in (first, 1 - first):
            images = _blend(images, op, factors.gather(1, op[:, None]).squeeze(1))
        return images
    last = torch.argsort((order == 3).int(), dim=1, stable=True)  # (B, 4) positions, the hue's moved last
    blend_order = order.gather(1, last[:, :3])  # (B, 3) the blend ops in the image's order (no mask indexing)
    before = (order == 3).int().argmax(dim=1)  # (B,) how many blend ops come before the hue shift
    steps = [blend_order[:, k] for k in range(3)]  # (B,) each
    skip = torch.full_like(before, 3)  # op 3 = identity in `_blend`
    for k, op in enumerate(steps):  # the ops before the hue shift
        op = torch.where(before > k, op, skip)
        images = _blend(images, op, factors.gather(1, op.clamp(max=2)[:, None]).squeeze(1))
    shifted = hue_shift(images, hue)
    images = torch.where(per_image(hue != 0), shifted, images)  # shift 0: exactly the input, no round trip error
    for k, op in enumerate(steps):  # the ops after it
        op = torch.where(before <= k, op, skip)
        images = _blend(images, op, factors.gather(1, op.clamp(max=2)[:, None]).squeeze(1))
    return images


def grayscale(images: Tensor, apply: Tensor) -> Tensor:
    """Replace selected images by their luma, replicated to C channels.

    Args:
        images: (B, C, H, W) float, C in {1, 3}; identity for C == 1.
        apply: (B,) bool, which images to convert.

    Returns:
        (B, C, H, W).
    """
    if check_color_channels(images) == 1:
        return images
    return torch.where(per_image(apply), luma(images).expand_as(images), images)
