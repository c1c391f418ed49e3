"""TensorBoard pictures of an evaluation: the probe's spectrum plot, confusion matrix and embedding projector,
and the comparison figures.

Scalars say how much; these say what: how fast the singular values of h and z fall, which classes the linear
probe confuses, and where the test images sit in h.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

PROJECTOR_IMAGES = 1000  # test images whose h goes to the embedding projector


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
