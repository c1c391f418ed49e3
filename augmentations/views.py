"""MultiView: N independently augmented views of one batch from a single pipeline call."""

from torch import Tensor, nn

from augmentations.errors import ConfigError


class MultiView(nn.Module):
    """Return `n_views` independent augmentations of each image.

    Args:
        pipeline: module mapping (B, C, H, W) images to (B, C, h, w) views, drawing parameters per image
            (e.g. augmentations.ViewPipeline).
        n_views: number of views per image (2 in SimCLR).
    """

    def __init__(self, pipeline: nn.Module, n_views: int = 2) -> None:
        super().__init__()
        if n_views < 1:
            raise ConfigError(f"MultiView n_views must be >= 1 (SimCLR uses 2), got {n_views}")
        self.pipeline = pipeline
        self.n_views = n_views

    def normalise(self, images: Tensor) -> Tensor:
        """The un-augmented, normalised view of a batch (for evaluation): the pipeline's `normalise`."""
        return self.pipeline.normalise(images)

    def forward(self, images: Tensor) -> list[Tensor]:
        """Augment a batch n_views times.

        Args:
            images: (B, C, H, W) uint8 (or float in [0, 1]).

        Returns:
            n_views tensors, each (B, C, h, w); view v of image b is row b of tensor v.
        """
        # One pipeline call on an (n_views * B) batch rather than n_views calls: on the GPU one big
        # batched launch per op is faster, and every row still draws its own parameters.
        repeated = images.repeat(self.n_views, 1, 1, 1)  # (n_views * B, C, H, W)
        return list(self.pipeline(repeated).chunk(self.n_views, dim=0))


class OneSidedViews(nn.Module):
    """Two views for the paper's augmentation ablation (Figure 5): the first is the un-augmented image,
    the second the pipeline's view ("we then apply the targeted transformation(s) only to one branch of
    the framework, while leaving the other branch as the identity (i.e. t(x_i) = x_i)").

    Args:
        pipeline: module mapping (B, C, H, W) images to (B, C, H, W) normalised views, with a `normalise`
            method for the identity branch (e.g. augmentations.ViewPipeline). Views must keep the size.
    """

    n_views = 2

    def __init__(self, pipeline: nn.Module) -> None:
        super().__init__()
        self.pipeline = pipeline

    def normalise(self, images: Tensor) -> Tensor:
        """The un-augmented, normalised view of a batch: the pipeline's `normalise`."""
        return self.pipeline.normalise(images)

    def forward(self, images: Tensor) -> list[Tensor]:
        """images (B, C, H, W) uint8 or float in [0, 1] -> [identity view, augmented view], each (B, C, H, W)."""
        return [self.pipeline.normalise(images), self.pipeline(images)]
