"""Plots and tables of an augmentation comparison (`simclr.ablation.runner` rows): the paper's Figure 5 heatmap
(first transformation in rows, second in columns, single transformations on the diagonal) and bar charts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from simclr.ablation.results import CompareRow

METRIC_LABELS = {
    "h_top1": "linear top-1 on h (%)",
    "z_top1": "linear top-1 on z (%)",
    "contrastive_top1": "contrastive top-1 (%)",
    "final_loss": "final NT-Xent loss",
}


def pair_matrix(rows: Sequence[CompareRow], metric: str = "h_top1") -> tuple[list[str], list[list[float]]]:
    """The Figure 5 matrix of one metric.

    Args:
        rows: comparison rows; those with one part fill the diagonal, those with two parts (first,
            second) the off-diagonal cell [first][second]; other rows are ignored.
        metric: a CompareRow field.

    Returns:
        (transform names in order of first appearance, n x n values with NaN where nothing was run);
        ([], []) when no row is a pair.
    """
    if not any(len(r.parts) == 2 for r in rows):
        return [], []
    names: list[str] = []
    for r in rows:
        if len(r.parts) in (1, 2):
            names += [p for p in r.parts if p not in names]
    index = {n: i for i, n in enumerate(names)}
    matrix = [[math.nan] * len(names) for _ in names]
    for r in rows:
        if len(r.parts) in (1, 2):
            matrix[index[r.parts[0]]][index[r.parts[-1]]] = float(getattr(r, metric))
    return names, matrix


def format_pair_table(rows: Sequence[CompareRow], metric: str = "h_top1", percent: bool = True) -> str:
    """Markdown version of `pair_matrix`: rows = first transformation, columns = second, "-" where not run,
    plus a column with each row's mean over the pairs (off-diagonal)."""
    names, matrix = pair_matrix(rows, metric)
    scale = 100 if percent else 1
    lines = ["| 1st \\ 2nd | " + " | ".join(names) + " | mean of pairs |", "|---|" + "---:|" * (len(names) + 1)]
    for i, name in enumerate(names):
        cells = ["-" if math.isnan(v) else f"{scale * v:.2f}" for v in matrix[i]]
        pairs = [v for j, v in enumerate(matrix[i]) if j != i and not math.isnan(v)]
        mean = f"{scale * sum(pairs) / len(pairs):.2f}" if pairs else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines) + "\n"


def pair_heatmap(rows: Sequence[CompareRow], path: str | Path, metric: str = "h_top1", title: str | None = None):
    """Draws the Figure 5 heatmap of `metric` (values printed in the cells) and saves it as a PNG.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt  # headless runs get matplotlib's Agg backend automatically
    import numpy as np

    names, matrix = pair_matrix(rows, metric)
    if not names:
        raise ValueError(
            "pair_heatmap needs rows of ordered pairs (two parts each); use bar_chart for other strategies"
        )
    scale = 100 if metric.endswith("top1") else 1
    values = np.array(matrix, dtype=float) * scale
    fig, ax = plt.subplots(figsize=(3.0 + 0.8 * len(names), 2.2 + 0.7 * len(names)))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("2nd transformation")
    ax.set_ylabel("1st transformation")
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(names)):
        for j in range(len(names)):
            if np.isfinite(values[i, j]):
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if values[i, j] > middle else "white",
                )
    fig.colorbar(image, ax=ax, label=METRIC_LABELS.get(metric, metric))
    ax.set_title(title or METRIC_LABELS.get(metric, metric), fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return fig


def bar_chart(
    rows: Sequence[CompareRow],
    path: str | Path,
    metrics: Sequence[str] = ("h_top1", "z_top1"),
    title: str | None = None,
):
    """Grouped horizontal bars, one group per strategy (sorted by the first metric), saved as a PNG.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt  # headless runs get matplotlib's Agg backend automatically

    if not rows:
        raise ValueError("bar_chart needs at least one row")
    ordered = sorted(rows, key=lambda r: getattr(r, metrics[0]))
    height = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.3 * len(ordered) * len(metrics)))
    lowest = math.inf
    for k, metric in enumerate(metrics):
        scale = 100 if metric.endswith("top1") else 1
        values = [
            math.nan if getattr(r, metric) is None else scale * getattr(r, metric) for r in ordered
        ]  # None: no bar
        lowest = min(lowest, *(v for v in values if not math.isnan(v)))
        ax.barh(
            [i + k * height for i in range(len(ordered))],
            values,
            height=height,
            label=METRIC_LABELS.get(metric, metric),
        )
    ax.set_yticks(
        [i + height * (len(metrics) - 1) / 2 for i in range(len(ordered))], [r.strategy for r in ordered], fontsize=8
    )
    ax.set_xlim(left=max(0.0, lowest - 5))  # accuracies differ by a few points: zoom in
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "augmentation strategies", fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return fig
