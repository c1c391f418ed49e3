"""TensorBoard picture of the augmented view pairs during pretraining: the views the loss actually compares."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import IterableDataset
from torchvision.utils import make_grid


def unnormalise(views: Tensor, mean: Tensor | None, std: Tensor | None) -> Tensor:
    """Normalised views back to displayable pixels.

    Args:
        views: (N, C, H, W) float, (pixels - mean) / std.
        mean: (1, C, 1, 1) or None; std: (1, C, 1, 1) or None. Without them each image is min-max scaled.

    Returns:
        (N, C, H, W) float32 in [0, 1].
    """
    x = views.float()
    if mean is not None and std is not None:
        return (x * std.to(x) + mean.to(x)).clamp(0.0, 1.0)
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - low) / (high - low).clamp_min(1e-8)


def view_grid(views: list[Tensor], n_images: int, mean: Tensor | None = None, std: Tensor | None = None) -> Tensor:
    """One picture of the first `n_images` images' views: row b holds the V views of image b.

    Args:
        views: V tensors (B, C, H, W), normalised as the pipeline leaves them; view v of image b is row b of v.
        n_images: rows of the grid (at most B).
        mean, std: the pipeline's (1, C, 1, 1) normalisation, or None.

    Returns:
        (3, n * (H + 2) + 2, V * (W + 2) + 2) float in [0, 1] on the CPU (`make_grid`, padding 2); views of
        another size than the first (multi-crop's small views) are resized to it for display (nearest).
    """
    n = min(n_images, views[0].shape[0])
    size = views[0].shape[-2:]
    shown = [v[:n].detach() if v.shape[-2:] == size else F.interpolate(v[:n].detach(), size=size) for v in views]
    stacked = torch.stack(shown, dim=1)  # (n, V, C, H, W)
    pixels = unnormalise(stacked.flatten(0, 1), mean, std).cpu()  # (n * V, C, H, W), image-major
    return make_grid(pixels, nrow=len(views), padding=2)


def _normalisation(augment: torch.nn.Module) -> tuple[Tensor | None, Tensor | None]:
    """The (1, C, 1, 1) mean and std of `augment` (a MultiView / OneSidedViews over a ViewPipeline), or Nones."""
    pipeline = getattr(augment, "pipeline", augment)
    mean, std = getattr(pipeline, "mean", None), getattr(pipeline, "std", None)
    return (mean, std) if isinstance(mean, Tensor) and isinstance(std, Tensor) else (None, None)


def first_training_images(datamodule, n: int) -> Tensor | None:
    """The first `n` pretraining images, (n, C, H, W) uint8, or None for a data module without an indexable
    training set of equal-sized tensors (then the grid shows the batch's views alone)."""
    dataset = getattr(datamodule, "dataset", None)
    if not callable(dataset):
        return None
    train = dataset("train")
    if isinstance(train, IterableDataset):  # a stream (shards) has no first images to index
        return None
    items = [train[i] for i in range(min(n, len(train)))]
    images = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
    if not images or not all(isinstance(x, Tensor) and x.shape == images[0].shape for x in images):
        return None
    return torch.stack(images)


class ViewPairGrid(L.Callback):
    """Logs augmented views as one image (tag `views/pairs`): rows = images, columns = the original image,
    view 1, view 2 (all V views for V > 2), un-normalised.

    The rows are the first `n_images` images of the training set, the same at every log, so successive grids
    show the same images: their views are drawn at the logged steps by the module's `augment` under a forked
    RNG seeded with the step, so the training batches and their random stream are unchanged. A data module
    without an indexable training set gets the views of the current batch (the module augments in
    `on_after_batch_transfer`, so `on_train_batch_start` receives (views, labels)), without the originals.
    The pixels reach the host only at the steps it logs. Loggers without `add_image` (CSV, none) are skipped.

    Args:
        every_n_epochs: log on the first batch of epoch 0, every_n_epochs, 2 * every_n_epochs, ... (and of
            the first epoch a resumed run starts in).
        n_images: rows of the grid.
    """

    def __init__(self, every_n_epochs: int = 5, n_images: int = 8) -> None:
        if every_n_epochs < 1 or n_images < 1:
            raise ValueError(
                f"ViewPairGrid needs every_n_epochs >= 1 and n_images >= 1, got {every_n_epochs}, {n_images}"
            )
        self.every_n_epochs = every_n_epochs
        self.n_images = n_images
        self._logged_once = False
        self._images: Tensor | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        first = not self._logged_once
        due = batch_idx == 0 and trainer.current_epoch % self.every_n_epochs == 0
        if not (first or due) or not trainer.is_global_zero:
            return
        writers = [getattr(lg, "experiment", None) for lg in trainer.loggers]
        writers = [w for w in writers if callable(getattr(w, "add_image", None))]
        views = batch[0] if isinstance(batch, (tuple, list)) else None
        if not writers or not isinstance(views, (tuple, list)) or not all(isinstance(v, Tensor) for v in views):
            return
        augment = getattr(pl_module, "augment", None)
        if self._images is None:
            self._images = first_training_images(getattr(trainer, "datamodule", None), self.n_images)
        if self._images is not None and augment is not None:
            views = self.views_of_originals(augment, self._images.to(views[0].device), trainer.global_step)
        grid = view_grid(list(views), self.n_images, *_normalisation(augment))
        for writer in writers:
            writer.add_image("views/pairs", grid, global_step=trainer.global_step)
        self._logged_once = True

    @staticmethod
    @torch.no_grad()
    def views_of_originals(augment: torch.nn.Module, images: Tensor, step: int) -> list[Tensor]:
        """[normalised originals, view 1, ..., view V] of uint8 `images` (n, C, H, W), drawn under a forked
        RNG seeded with `step` (the global generators are as before afterwards)."""
        cuda = images.device.type == "cuda"
        index = (
            (images.device.index if images.device.index is not None else torch.cuda.current_device()) if cuda else None
        )
        with torch.random.fork_rng(devices=[index] if cuda else [], device_type="cuda"):
            torch.manual_seed(step)
            return [augment.normalise(images), *augment(images)]
