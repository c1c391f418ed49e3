"""ViewPipeline: uint8 batch on the device -> float [0, 1] -> augmentations in order -> normalised view."""

import torch
from torch import Tensor, nn

from augmentations.errors import ConfigError, check_probability


class ViewPipeline(nn.Module):
    """One augmented, normalised view of a batch, computed where the batch lives (CPU or GPU).

    Args:
        transforms: modules mapping float (B, C, H, W) in [0, 1] to float (B, C, h, w) in [0, 1], applied
            in order (see augmentations.transforms).
        mean: per-channel mean subtracted after augmentation, length C.
        std: per-channel standard deviation divided by after augmentation, length C.
    """

    def __init__(self, transforms: list[nn.Module], mean: list[float], std: list[float]) -> None:
        super().__init__()
        if len(mean) != len(std):
            raise ConfigError(
                f"ViewPipeline mean has {len(mean)} channels but std has {len(std)}; give both one value per image channel"
            )
        for i, transform in enumerate(transforms):  # kornia's transforms accept any p; ours check it themselves
            for name in ("p", "p_batch"):
                if isinstance(getattr(transform, name, None), (int, float)):
                    owner = f"ViewPipeline transforms[{i}] {type(transform).__name__}"
                    check_probability(getattr(transform, name), owner, name)
        self.transforms = nn.ModuleList(transforms)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def normalise(self, images: Tensor) -> Tensor:
        """The un-augmented view used for evaluation (linear probe, kNN, diagnostics).

        Args:
            images: (B, C, H, W) uint8 in [0, 255], or float in [0, 1].

        Returns:
            (B, C, H, W) float32, (images - mean) / std.
        """
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        return (x - self.mean.to(x.device, non_blocking=True)) / self.std.to(x.device, non_blocking=True)

    def forward(self, images: Tensor) -> Tensor:
        """Augment and normalise a batch.

        Args:
            images: (B, C, H, W) uint8 in [0, 255], or float in [0, 1].

        Returns:
            (B, C, h, w) float32, (augmented - mean) / std.
        """
        channels = images.shape[1]
        if channels != self.mean.shape[1]:
            raise ValueError(
                f"mean/std have {self.mean.shape[1]} channels but images have {channels}; "
                f"give the pipeline a mean and std with {channels} values"
            )
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()  # on images.device
        for transform in self.transforms:
            x = transform(x)
        mean = self.mean.to(x.device, non_blocking=True)  # no-op once the module is on x's device
        std = self.std.to(x.device, non_blocking=True)
        return (x - mean) / std
