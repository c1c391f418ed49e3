"""Results of an augmentation comparison: one `CompareRow` per strategy and seed, written as CSV and JSON, read
back, averaged over seeds, formatted as markdown tables and summarised in a few sentences under the noise rule."""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from simclr.ablation.noise_rule import MIN_SEEDS, P_THRESHOLD, no_call_note, verdict


@dataclass
class CompareRow:
    """Result of one strategy; accuracies are fractions in [0, 1]."""

    strategy: str  # Strategy.name
    parts: list[str]  # its building blocks in order (heatmap axes)
    h_top1: float  # linear probe on h, official test split (its first Budget.test_images)
    z_top1: float  # linear probe on z, official test split (its first Budget.test_images)
    final_loss: float | None  # NT-Xent on the strategy's views of `val_images` test images after training
    contrastive_top1: float | None  # fraction of those anchors whose positive is the most similar candidate
    train_loss: float | None  # NT-Xent of the last training step (None for the untrained baseline)
    seconds: float  # wall time of pretraining, validation and both probes
    seed: int | None = 0  # the run's seed; None for a mean over seeds (`mean_over_seeds`)
    steps: int = 0  # optimiser steps of pretraining (0 for the untrained baseline)
    batch_size: int | None = None  # pretraining images a step (None for the untrained baseline)


UNTRAINED = "untrained"  # name of the baseline row: the shared initial weights, probed without pretraining


def write_rows(rows: Sequence[CompareRow], out_dir: str | Path) -> tuple[Path, Path]:
    """Writes `compare.csv` (parts joined by " > ") and `compare.json` (a list of CompareRow objects) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / "compare.csv", out / "compare.json"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(CompareRow)])
        writer.writeheader()
        for row in rows:
            writer.writerow({**asdict(row), "parts": " > ".join(row.parts)})
    json_path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return csv_path, json_path


def read_rows(path: str | Path) -> list[CompareRow]:
    """The rows of a `compare.json`."""
    return [CompareRow(**row) for row in json.loads(Path(path).read_text())]


def mean_over_seeds(rows: Sequence[CompareRow]) -> list[CompareRow]:
    """One row per strategy, in first-seen order: every figure averaged over the seeds that ran it, seconds
    summed, seed None. Rows of one seed come back with the same figures."""
    names = list(dict.fromkeys(r.strategy for r in rows))
    means = []
    for name in names:
        mine = [r for r in rows if r.strategy == name]

        def mean(key: str) -> float | None:
            values = [getattr(r, key) for r in mine if getattr(r, key) is not None]
            return statistics.fmean(values) if values else None

        means.append(
            CompareRow(name, list(mine[0].parts), mean("h_top1"), mean("z_top1"), mean("final_loss"),
                       mean("contrastive_top1"), mean("train_loss"), sum(r.seconds for r in mine), None,
                       mine[0].steps, mine[0].batch_size)
        )  # fmt: skip
    return means


def format_seed_table(rows: Sequence[CompareRow]) -> str:
    """Markdown: strategy | h top-1 mean ± std over seeds | h of each seed | z top-1 mean ± std (percent)."""
    seeds = list(dict.fromkeys(r.seed for r in rows))
    lines = [
        "| strategy | h top-1 (%) | " + " | ".join(f"h seed {s}" for s in seeds) + " | z top-1 (%) |",
        "|---|---:|" + "---:|" * len(seeds) + "---:|",
    ]

    def mean_sd(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.fmean(values):.2f} ± {100 * sd:.2f}"

    for name in dict.fromkeys(r.strategy for r in rows):
        mine = {r.seed: r for r in rows if r.strategy == name}
        per_seed = ["-" if s not in mine else f"{100 * mine[s].h_top1:.2f}" for s in seeds]
        h, z = [r.h_top1 for r in mine.values()], [r.z_top1 for r in mine.values()]
        lines.append(f"| {name} | {mean_sd(h)} | " + " | ".join(per_seed) + f" | {mean_sd(z)} |")
    return "\n".join(lines) + "\n"


def format_rows(rows: Sequence[CompareRow]) -> str:
    """Markdown table: strategy | h top-1 | z top-1 | final loss | contrastive top-1 | seconds (percent for accuracies)."""
    lines = [
        "| strategy | h top-1 | z top-1 | final loss | contrastive top-1 | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        loss = "-" if r.final_loss is None else f"{r.final_loss:.3f}"
        contrastive = "-" if r.contrastive_top1 is None else f"{100 * r.contrastive_top1:.1f}"
        lines.append(
            f"| {r.strategy} | {100 * r.h_top1:.2f} | {100 * r.z_top1:.2f} | {loss} | {contrastive} | {r.seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


def summary(rows: Sequence[CompareRow], pair: tuple[str, str] = ("crop", "color"), metric: str = "h_top1") -> str:
    """A few sentences on a pairwise comparison under the noise rule (`simclr.ablation.noise_rule`), computed
    from the rows of every seed (for notebooks and reports). With at least MIN_SEEDS seeds a strategy: the rule's
    verdict on `pair` against each single transformation, and how many strategies it calls higher, tied and
    lower than the untrained encoder. With fewer: the rule's no-call note and each strategy's mean, unranked."""
    values: dict[str, list[float]] = {}  # strategy -> the metric of each seed
    parts: dict[str, tuple[str, ...]] = {}
    for r in rows:
        values.setdefault(r.strategy, []).append(getattr(r, metric))
        parts.setdefault(r.strategy, tuple(r.parts))
    if not values:
        return ""
    label = {"h_top1": "linear top-1 on h", "z_top1": "linear top-1 on z"}.get(metric, metric)

    def pct(name: str) -> str:
        return f"{100 * statistics.fmean(values[name]):.2f}%"

    seeds = min(len(v) for v in values.values())
    if seeds < MIN_SEEDS:
        return f"{no_call_note(seeds)} {label.capitalize()}: " + ", ".join(f"{n} {pct(n)}" for n in values) + "."
    lines = [f"Noise rule on {label} over {seeds} or more seeds a strategy (Welch's t-test, p < {P_THRESHOLD})."]
    singles = [n for n in values if len(parts[n]) == 1]
    target = next((n for n in values if parts[n] == tuple(pair)), None)
    if target is not None and singles:
        calls = "; ".join(f"against {n} ({pct(n)}) {verdict(values[n], values[target])}" for n in singles)
        lines.append(f"{' then '.join(pair)} ({pct(target)}): {calls}.")
    if UNTRAINED in values:
        trained = [n for n in values if n != UNTRAINED]
        words = [verdict(values[UNTRAINED], values[n]).split()[0] for n in trained]
        lines.append(
            f"Against the untrained encoder ({pct(UNTRAINED)}): of {len(trained)} strategies {words.count('higher')} "
            f"higher, {words.count('tie')} tie, {words.count('lower')} lower."
        )
    return " ".join(lines)
