"""Results of a method comparison: one `MethodRow` per (method, seed), written as CSV, JSON and a markdown table
(mean and spread over seeds) with the noise rule's verdicts, drawn as a bar chart (PNG) and logged to TensorBoard."""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from simclr.ablation.noise_rule import MIN_SEEDS, no_call_note, verdict


@dataclass
class MethodRow:
    """One pretraining run and its probes; accuracies are fractions in [0, 1]."""

    method: str  # name of the method config (its file name without .yaml)
    model: str  # the LightningModule class, e.g. MoCo
    seed: int
    linear_top1: float  # linear probe on frozen h, test split
    knn_top1: float  # kNN (cosine) on frozen h, test split
    train_loss: float | None  # the method's own loss at the last step (not comparable across methods); None: baseline
    steps: int  # optimiser steps taken
    seconds_per_step: float | None  # wall time per training step after the first (None for a 1-step run)
    seconds: float  # wall time of pretraining and probes
    z_linear_top1: float | None = None  # linear probe on frozen z, when asked for
    batch_size: int | None = None  # pretraining images a step (None: a baseline, not trained)


def summarise(rows: Sequence[MethodRow]) -> list[dict]:
    """Per method (in first-seen order): mean and standard deviation over seeds of the probes and the step time."""
    names = list(dict.fromkeys(r.method for r in rows))
    out = []
    for name in names:
        mine = [r for r in rows if r.method == name]

        def stats(key: str) -> tuple[float, float]:
            values = [getattr(r, key) for r in mine if getattr(r, key) is not None]
            if not values:
                return float("nan"), 0.0
            return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

        out.append(
            {"method": name, "model": mine[0].model, "seeds": len(mine), "steps": mine[0].steps}
            | {key: stats(key) for key in ("linear_top1", "knn_top1", "seconds_per_step", "z_linear_top1")}
        )
    return out


def format_method_table(rows: Sequence[MethodRow]) -> str:
    """Markdown: method | model | seeds | steps | linear top-1 on h (%) | [linear top-1 on z (%)] | kNN top-1 on h
    (%) | ms / step, mean ± std over seeds; the z column when any row probed z."""
    with_z = any(r.z_linear_top1 is not None for r in rows)
    z_head = " linear top-1 z (%) |" if with_z else ""
    lines = [
        f"| method | model | seeds | steps | linear top-1 h (%) |{z_head} kNN top-1 h (%) | ms / step |",
        "|---|---|---:|---:|---:|" + ("---:|" if with_z else "") + "---:|---:|",
    ]

    def cell(mean_sd: tuple[float, float], scale: float = 100, digits: int = 2) -> str:
        mean, sd = mean_sd
        return "-" if mean != mean else f"{scale * mean:.{digits}f} ± {scale * sd:.{digits}f}"  # nan: not measured

    for s in summarise(rows):
        z_cell = f" {cell(s['z_linear_top1'])} |" if with_z else ""
        lines.append(
            f"| {s['method']} | {s['model']} | {s['seeds']} | {s['steps']} | {cell(s['linear_top1'])} |{z_cell} "
            f"{cell(s['knn_top1'])} | {cell(s['seconds_per_step'], 1000, 1)} |"
        )
    return "\n".join(lines) + "\n"


def format_method_verdicts(rows: Sequence[MethodRow], reference: str = "simclr") -> str:
    """Markdown: each other method's linear and kNN top-1 on h against `reference`'s, as the noise rule's
    verdict over seeds (`simclr.ablation.noise_rule.verdict`: "higher (p = ...)", "tie (...)", "n < 3: no
    call"); led by the rule's no-call note when a method has fewer than MIN_SEEDS seeds."""
    per_seed: dict[str, dict[str, list[float]]] = {}  # method -> metric -> the value of each seed
    for r in rows:
        mine = per_seed.setdefault(r.method, {"linear_top1": [], "knn_top1": []})
        for key, values in mine.items():
            values.append(getattr(r, key))
    if reference not in per_seed:
        raise ValueError(f"no rows of the reference method {reference!r}; methods: {', '.join(per_seed)}")
    base = per_seed[reference]
    lines = [
        f"| method | seeds | linear top-1 h against {reference} | kNN top-1 h against {reference} |",
        "|---|---:|---|---|",
    ]
    for name, mine in per_seed.items():
        if name != reference:
            lines.append(f"| {name} | {len(mine['linear_top1'])} | {verdict(base['linear_top1'], mine['linear_top1'])} "
                         f"| {verdict(base['knn_top1'], mine['knn_top1'])} |")  # fmt: skip
    seeds = min(len(m["linear_top1"]) for m in per_seed.values())
    note = f"{no_call_note(seeds)}\n\n" if seeds < MIN_SEEDS else ""
    return note + "\n".join(lines) + "\n"


def write_method_rows(rows: Sequence[MethodRow], out_dir: str | Path) -> tuple[Path, Path, Path]:
    """Writes `methods.csv`, `methods.json` (one row per run) and `methods.md` (the summary table) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, md_path = out / "methods.csv", out / "methods.json", out / "methods.md"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(MethodRow)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    json_path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    md_path.write_text(format_method_table(rows))
    return csv_path, json_path, md_path


def read_method_rows(path: str | Path) -> list[MethodRow]:
    """The rows of a `methods.json`."""
    return [MethodRow(**row) for row in json.loads(Path(path).read_text())]


def method_bar_chart(rows: Sequence[MethodRow], path: str | Path, title: str = "methods, same budget"):
    """Grouped bars per method (linear and kNN top-1 on h, mean over seeds, error bar = std), saved as a PNG.

    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt  # headless runs get matplotlib's Agg backend automatically

    summary = summarise(rows)
    if not summary:
        raise ValueError("method_bar_chart needs at least one row")
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(summary), 3.5))
    width = 0.38
    for k, (key, label) in enumerate((("linear_top1", "linear top-1 on h"), ("knn_top1", "kNN top-1 on h"))):
        means = [100 * s[key][0] for s in summary]
        stds = [100 * s[key][1] for s in summary]
        ax.bar([i + (k - 0.5) * width for i in range(len(summary))], means, width, yerr=stds, label=label, capsize=3)
    ax.set_xticks(range(len(summary)), [s["method"] for s in summary], rotation=20, ha="right")
    ax.set_ylabel("test top-1 (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return fig


def log_methods_to_tensorboard(rows: Sequence[MethodRow], figure, log_dir: str | Path) -> None:
    """The bar chart (`compare/methods`) and each method's mean probes and step time as TensorBoard scalars."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(log_dir)) as writer:
        writer.add_figure("compare/methods", figure, close=False)
        for s in summarise(rows):
            for key in ("linear_top1", "knn_top1", "seconds_per_step"):
                writer.add_scalar(f"compare/{key}/{s['method']}", s[key][0])
