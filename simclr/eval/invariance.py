"""What a representation keeps about the transformation applied to an image: a linear probe predicts the
transformation (which quarter turn, which brightness level) from h, each head layer and z.

SimCLR, section 4.2 and Table 3: "g can remove information that may be useful for the downstream task,
such as the color or orientation of objects"; predicting the applied transformation from h works far
better than from g(h). The paper trains MLPs; we train the same linear probe as for classes (simclr.eval.linear_probe),
on one half of the images and test on the other half (different source images).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from augmentations import ops
from simclr.data.datasets import TensorImages
from simclr.eval.features import Normalise, extract_representations
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_probe

BRIGHTNESS_LEVELS = (0.6, 0.8, 1.0, 1.2, 1.4)  # the range of the Fashion-MNIST jitter (strength 0.5)


def rotation_task(images: Tensor) -> tuple[Tensor, Tensor]:
    """Image n turned by n mod 4 quarter turns (balanced, deterministic).

    Args:
        images: uint8 (N, C, S, S), square.

    Returns:
        (rotated uint8 (N, C, S, S), labels int64 (N,) in {0, 1, 2, 3}).
    """
    labels = torch.arange(len(images)) % 4
    return ops.rot90(images, labels), labels


def brightness_task(images: Tensor, levels: Sequence[float] = BRIGHTNESS_LEVELS) -> tuple[Tensor, Tensor]:
    """Image n multiplied by levels[n mod L] (the colour jitter's brightness op, x * b clamped to [0, 1]).

    Args:
        images: uint8 (N, C, H, W).
        levels: brightness factors; the label is the factor's index.

    Returns:
        (uint8 (N, C, H, W) rounded back to 0..255, labels int64 (N,) in [0, L)).
    """
    labels = torch.arange(len(images)) % len(levels)
    factors = torch.tensor(levels, dtype=torch.float32)[labels].view(-1, 1, 1, 1)  # (N, 1, 1, 1)
    scaled = (images.float() * factors).clamp(0, 255).round().to(torch.uint8)
    return scaled, labels


def transformation_probe(
    encoder: nn.Module,
    head: nn.Module | None,
    normalise: Normalise,
    images: Tensor,
    labels: Tensor,
    recipe: ProbeRecipe = ProbeRecipe(),
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> dict[str, float]:
    """Linear-probe accuracy of predicting `labels` (the transformation) from each representation.

    Args:
        encoder, head: the frozen model (features as in `simclr.eval.features.extract_representations`).
        normalise: uint8 (B, C, H, W) -> float model input, e.g. `model.augment.normalise`.
        images: uint8 (N, C, H, W), already transformed (e.g. by `rotation_task`).
        labels: int64 (N,), the transformation's class; the first N // 2 images train, the rest test.
        recipe: linear-probe settings.

    Returns:
        {"h": top-1, "head_1": ..., "z": ...} on the test half, fractions in [0, 1].
    """
    feats, y = extract_representations(encoder, head, TensorImages(images, labels), normalise, batch_size, device)
    half = len(y) // 2
    classes = int(labels.max()) + 1
    return {
        name: fit_linear_probe(x[:half], y[:half], x[half:], y[half:], classes, recipe) for name, x in feats.items()
    }
