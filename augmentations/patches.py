"""Image patches as views: patches of one image are positives of each other, patches of other images negatives.

The views of `GridPatches` and `RandomPatches` plug into SimCLR as its `augment`: view v of image b is a patch
of image b, so multi-view NT-Xent treats the V patches of an image as its positives. Each patch is resized to
the encoder's input size, then goes through a view pipeline (augmentation and normalisation).
"""

import torch
from torch import Tensor, nn

from augmentations import ops
from augmentations.errors import ConfigError


def grid_boxes(height: int, width: int, grid: int) -> Tensor:
    """The cells of a grid x grid split of an image, row-major.

    Args:
        height, width: image size in pixels.
        grid: cells per side.

    Returns:
        (grid * grid, 4) float [x0, y0, x1, y1] pixel edges; the cells tile the image without overlap.
    """
    ys = torch.linspace(0, height, grid + 1)  # (grid + 1,) cell edges
    xs = torch.linspace(0, width, grid + 1)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()  # (grid * grid,)
    return torch.stack([xs[cols], ys[rows], xs[cols + 1], ys[rows + 1]], dim=1)


def random_boxes(n: int, batch: int, height: int, width: int, fraction: float, device: torch.device) -> Tensor:
    """n square-ish patches per image at random positions, each `fraction` of the image's height and width.

    Returns:
        (n, batch, 4) float [x0, y0, x1, y1] pixel edges, drawn independently per patch and image.
    """
    ph, pw = fraction * height, fraction * width
    x0 = torch.rand(n, batch, device=device) * (width - pw)  # (n, B)
    y0 = torch.rand(n, batch, device=device) * (height - ph)
    return torch.stack([x0, y0, x0 + pw, y0 + ph], dim=2)


def cut_patches(images: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Every box of every image, resized to size x size (bilinear), in one sampling call.

    Args:
        images: (B, C, H, W) float.
        boxes: (P, B, 4) [x0, y0, x1, y1]: patch p of image b is boxes[p, b].
        size: output side in pixels.

    Returns:
        (P * B, C, size, size), patch-major: rows [p B, (p + 1) B) are patch p of every image.
    """
    n = boxes.shape[0]
    repeated = images.repeat(n, 1, 1, 1)  # (P * B, C, H, W), row p B + b is image b
    return ops.resized_crop(repeated, boxes.reshape(-1, 4), (size, size))


class _Patches(nn.Module):
    """Shared by the patch view generators: cut, resize, augment + normalise with `pipeline`."""

    def __init__(self, pipeline: nn.Module, size: int) -> None:
        super().__init__()
        if size < 1:
            raise ConfigError(
                f"{type(self).__name__} size must be >= 1 pixel, got {size}; use the encoder's input size"
            )
        self.pipeline = pipeline
        self.size = size

    def normalise(self, images: Tensor) -> Tensor:
        """The whole image, un-augmented and normalised (for evaluation): the pipeline's `normalise`."""
        return self.pipeline.normalise(images)

    def boxes(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (P, B, 4) patch boxes."""
        raise NotImplementedError

    def forward(self, images: Tensor) -> list[Tensor]:
        """uint8 (or float in [0, 1]) (B, C, H, W) -> P views (B, C, size, size); row b of each is a patch of image b."""
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        boxes = self.boxes(x)  # (P, B, 4)
        views = self.pipeline(cut_patches(x, boxes, self.size))  # (P * B, C, h, w): one pipeline call
        return list(views.chunk(boxes.shape[0], dim=0))


class GridPatches(_Patches):
    """Views = the cells of a grid x grid split of each image (n_views = grid^2).

    Args:
        pipeline: float [0, 1] (N, C, size, size) -> normalised views, with `normalise` (e.g. a preset's
            ViewPipeline; its crop then acts within a patch).
        grid: cells per side (2 gives 4 views per image).
        size: side of each view in pixels (the encoder's input size, e.g. 28 for Fashion-MNIST).
    """

    def __init__(self, pipeline: nn.Module, grid: int = 2, size: int = 28) -> None:
        super().__init__(pipeline, size)
        if grid < 1 or grid * grid < 2:
            raise ConfigError(f"GridPatches grid must be >= 2 (two patches make a positive pair), got {grid}")
        self.grid = grid
        self.n_views = grid * grid

    def boxes(self, images: Tensor) -> Tensor:
        cells = grid_boxes(images.shape[2], images.shape[3], self.grid).to(images.device)  # (P, 4)
        return cells[:, None, :].expand(-1, images.shape[0], -1)  # (P, B, 4)


class RandomPatches(_Patches):
    """Views = n_views patches of each image at random positions (they may overlap).

    Args:
        pipeline: see `GridPatches`.
        n_views: patches per image, >= 2.
        fraction: side of a patch as a fraction of the image side, in (0, 1].
        size: side of each view in pixels.
    """

    def __init__(self, pipeline: nn.Module, n_views: int = 4, fraction: float = 0.5, size: int = 28) -> None:
        super().__init__(pipeline, size)
        if n_views < 2:
            raise ConfigError(f"RandomPatches n_views must be >= 2 (two patches make a positive pair), got {n_views}")
        if not 0 < fraction <= 1:
            raise ConfigError(f"RandomPatches fraction must be in (0, 1], got {fraction}; e.g. 0.5 for half the side")
        self.n_views = n_views
        self.fraction = fraction

    def boxes(self, images: Tensor) -> Tensor:
        _, _, height, width = images.shape
        return random_boxes(self.n_views, images.shape[0], height, width, self.fraction, images.device)
