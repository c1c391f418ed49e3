"""TensorBoard pictures: the augmented view pairs during pretraining, and the probe's spectrum plot, confusion
matrix and embedding projector.

Scalars say how much; these say what: the views the loss actually compares, how fast the singular values of
h and z fall, which classes the linear probe confuses, and where the test images sit in h.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid

PROJECTOR_IMAGES = 1000  # test images whose h goes to the embedding projector


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


def spectrum_figure(diagnostics: dict) -> Figure:
    """Normalised singular values of each representation on a log scale.

    Args:
        diagnostics: name -> {"spectrum": singular values, largest first, summing to 1, ...}.
    """
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    for name, values in diagnostics.items():
        spectrum = [s for s in values["spectrum"] if s > 0]
        ax.plot(range(1, len(spectrum) + 1), spectrum, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("singular value index")
    ax.set_ylabel("share of the sum")
    ax.set_title("Singular value spectrum (test views)")
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(predictions: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """(K, K) counts, row = true class, column = predicted class (torchmetrics `MulticlassConfusionMatrix`).

    Args:
        predictions: (M,) int64 predicted classes; labels: (M,) int64 true classes.
    """
    metric = MulticlassConfusionMatrix(num_classes)
    metric.update(predictions.cpu(), labels.long().cpu())
    return metric.compute()


def confusion_figure(matrix: Tensor, title: str) -> Figure:
    """A (K, K) confusion matrix as a heatmap of row-normalised rates, with the counts written in each cell."""
    k = matrix.shape[0]
    rates = matrix.float() / matrix.sum(1, keepdim=True).clamp_min(1)
    fig = Figure(figsize=(1 + 0.5 * k, 0.5 + 0.5 * k))
    ax = fig.add_subplot()
    image = ax.imshow(rates.numpy(), vmin=0.0, vmax=1.0, cmap="Blues")
    for i in range(k):
        for j in range(k):
            colour = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def log_probe_views(writer, diagnostics: dict, test_outputs: dict, num_classes: int) -> None:
    """Spectrum plot, the h probe's confusion matrix and h in the embedding projector.

    Args:
        writer: a `SummaryWriter`.
        diagnostics: as `evaluate_checkpoint` returns it ({} draws no spectrum).
        test_outputs: {"h": (M, D), "labels": (M,), "h_predictions": (M,)} of the test split, as
            `evaluate_checkpoint(test_outputs=...)` fills it; missing keys skip their picture.
        num_classes: K.
    """
    if diagnostics:
        writer.add_figure("diagnostics/spectrum_plot", spectrum_figure(diagnostics))
    labels = test_outputs.get("labels")
    if labels is None:
        return
    if "h_predictions" in test_outputs:
        matrix = confusion_matrix(test_outputs["h_predictions"], labels, num_classes)
        writer.add_figure("probe/confusion_h", confusion_figure(matrix, "Linear probe on h (test split)"))
    if "h" in test_outputs:
        n = min(PROJECTOR_IMAGES, len(labels))
        writer.add_embedding(test_outputs["h"][:n].float(), metadata=labels[:n].tolist(), tag="h")


def log_figures(log_dir: str | Path, figures: dict[str, Figure], table: str | None = None) -> Path:
    """Writes matplotlib figures (and a markdown table as text) to a TensorBoard event file in `log_dir`.

    Args:
        log_dir: the folder `tensorboard --logdir` is pointed at.
        figures: tag -> figure, e.g. {"compare/heatmap": ..., "compare/bars": ...}; each is closed after.
        table: markdown shown in TensorBoard's text tab under the tag "compare/table".

    Returns:
        `log_dir`.
    """
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(log_dir)) as writer:
        for tag, figure in figures.items():
            writer.add_figure(tag, figure)
        if table:
            writer.add_text("compare/table", table)
    return Path(log_dir)
