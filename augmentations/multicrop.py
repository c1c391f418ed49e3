"""Multi-crop views (SwAV, Caron et al. 2020): "two standard resolution crops and sample V additional low
resolution crops that cover only small parts of the image"; DINO calls them global and local views."""

from torch import Tensor, nn

from augmentations.errors import ConfigError


class MultiCrop(nn.Module):
    """n_global views from `global_pipeline`, then n_local smaller views from `local_pipeline`.

    Views of one size come out consecutive, so the methods batch each size through the encoder in one call
    (`simclr.methods.base.encode_views`). SimCLR's multi-view NT-Xent treats every view of an image as a
    positive of every other; BYOL's target sees only the global views (those of the first view's size).

    Args:
        global_pipeline: (N, C, H, W) -> (N, C, S, S) normalised large crops, e.g.
            `augmentations.presets.simclr_fashion_mnist` with size 28, crop_scale (0.35, 1).
        local_pipeline: (N, C, H, W) -> (N, C, s, s) normalised small crops (s < S), e.g. size 12,
            crop_scale (0.05, 0.35); the same mean and std as the global pipeline.
        n_global: global views per image (2 in SwAV and DINO).
        n_local: local views per image (6 in SwAV, 8 in DINO; 0 gives plain two-view training).
    """

    def __init__(self, global_pipeline: nn.Module, local_pipeline: nn.Module, n_global: int = 2, n_local: int = 4):
        super().__init__()
        if n_global < 1 or n_local < 0 or n_global + n_local < 2:
            raise ConfigError(
                f"MultiCrop needs n_global >= 1, n_local >= 0 and 2 views in all, got {n_global} and {n_local}; "
                f"SwAV uses n_global 2, n_local 6"
            )
        self.global_pipeline = global_pipeline
        self.local_pipeline = local_pipeline
        self.n_global = n_global
        self.n_local = n_local
        self.n_views = n_global + n_local

    @property
    def pipeline(self) -> nn.Module:
        """The global pipeline: its mean and std normalise every view (evaluation and TensorBoard read them)."""
        return self.global_pipeline

    def normalise(self, images: Tensor) -> Tensor:
        """The un-augmented, normalised view of a batch (for evaluation): the global pipeline's `normalise`."""
        return self.global_pipeline.normalise(images)

    def forward(self, images: Tensor) -> list[Tensor]:
        """uint8 (B, C, H, W) -> n_global views (B, C, S, S), then n_local views (B, C, s, s).

        One pipeline call per size on a repeated batch: every row draws its own crop.
        """
        views = list(self.global_pipeline(images.repeat(self.n_global, 1, 1, 1)).chunk(self.n_global))
        if self.n_local:
            views += list(self.local_pipeline(images.repeat(self.n_local, 1, 1, 1)).chunk(self.n_local))
        return views
