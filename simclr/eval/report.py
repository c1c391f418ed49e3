"""Probe results as a markdown table (`probe.md`) and machine-readable JSON (`probe.json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class ProbeRow:
    """One evaluated representation."""

    representation: str  # "h", "head_1", ..., "z", "random_h", "pixels"
    dim: int  # feature dimension D
    linear_top1: float  # linear-probe test top-1 in [0, 1]
    knn_top1: float | None  # kNN test top-1 in [0, 1]; None where not computed


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def format_table(rows: Sequence[ProbeRow]) -> str:
    """Markdown table: representation | dim | linear top-1 | kNN top-1 (percent, 2 decimals; "-" if None)."""
    lines = ["| representation | dim | linear top-1 | kNN top-1 |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.representation} | {r.dim} | {_percent(r.linear_top1)} | {_percent(r.knn_top1)} |")
    return "\n".join(lines) + "\n"


def format_diagnostics(diagnostics: dict[str, dict]) -> str:
    """Markdown table: representation | alignment | uniformity | RankMe (from `representation_diagnostics`)."""
    lines = ["| representation | alignment | uniformity | RankMe |", "|---|---:|---:|---:|"]
    for name, d in diagnostics.items():
        lines.append(f"| {name} | {d['alignment']:.4f} | {d['uniformity']:.4f} | {d['rankme']:.2f} |")
    return "\n".join(lines) + "\n"


def write_report(
    rows: Sequence[ProbeRow], out_dir: Path, diagnostics: dict | None = None, header: str = ""
) -> tuple[Path, Path]:
    """Writes `probe.json`, `probe.md` and (with diagnostics) `diagnostics.json` into out_dir.

    Args:
        rows: evaluated representations, in table order.
        out_dir: created if missing.
        diagnostics: name -> {"alignment", "uniformity", "rankme", "spectrum"} or None.
        header: markdown put above the tables (e.g. checkpoint, dataset, hardware).

    Returns:
        (path of probe.md, path of probe.json). probe.json is a list of objects with exactly the keys
        representation, dim, linear_top1, knn_top1 (fractions in [0, 1]; knn_top1 may be null).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "probe.json", out_dir / "probe.md"
    json_path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    parts = [header.rstrip() + "\n"] if header.strip() else []
    parts.append(format_table(rows))
    if diagnostics:
        parts.append(
            "Diagnostics (Wang & Isola 2020 alignment/uniformity on augmented test views; "
            "RankMe, Garrido et al. 2023, on clean test features):\n"
        )
        parts.append(format_diagnostics(diagnostics))
        (out_dir / "diagnostics.json").write_text(json.dumps(diagnostics, indent=2) + "\n")
    md_path.write_text("\n".join(parts))
    return md_path, json_path
