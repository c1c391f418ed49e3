"""Shared by the benchmark scripts: device choice, synchronised timing, environment record, table, JSON.

Timing: each measurement is a window of `iters` calls between two `synchronize(device)` calls, so on
CUDA the figure is the GPU time of the work queued in the window (CUDA-synchronised), on the CPU plain
wall time. Warm-up windows are run and dropped first; the figure reported is the median window.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def pick_device(name: str) -> torch.device:
    """`auto` -> cuda when present, else cpu; anything else as given (a missing GPU is a clear error)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: no CUDA device here; use --device cpu or auto")
    return device


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_windows(fn: Callable[[], object], device: torch.device, iters: int, repeats: int, warmup: int) -> list[float]:
    """Seconds per call of `fn`, one figure per window of `iters` calls; `warmup` windows dropped first."""
    times = []
    for window in range(warmup + repeats):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        synchronize(device)
        if window >= warmup:
            times.append((time.perf_counter() - start) / iters)
    return times


def device_name(device: torch.device) -> str:
    """GPU name, or the CPU model and the number of cores this process may use."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({len(os.sched_getaffinity(0))} cores)"


def environment(device: torch.device) -> dict:
    """What a figure depends on besides its own settings: device, library versions, threads."""
    import kornia
    import lightning
    import torchvision

    return {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "kornia": kornia.__version__,
        "torchvision": torchvision.__version__,
        "lightning": lightning.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "timing": "cuda-synchronised" if device.type == "cuda" else "wall-clock",
        "command": " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def mean_std(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    """mean ± std over seeds (std 0 for one seed), in percent by default; "-" without values."""
    if not values:
        return "-"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{scale * statistics.fmean(values):.{digits}f} ± {scale * spread:.{digits}f}"


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Prints `rows` as a GitHub markdown table with the given columns (floats to 4 significant digits)."""

    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |")


def write_json(path: str | Path, benchmark: str, device: torch.device, settings: dict, results: list[dict]) -> Path:
    """Writes {benchmark, environment..., settings, results} to `path` (folders created) and returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": benchmark, **environment(device), "settings": settings, "results": results}
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def add_timing_arguments(
    parser: argparse.ArgumentParser, iters: int, warmup: int, out: str, unit: str = "calls"
) -> None:
    """The options every timing benchmark shares: window size, windows, warm-up, device and JSON path."""
    parser.add_argument("--iters", type=int, default=iters, help=f"{unit} per timed window")
    parser.add_argument("--repeats", type=int, default=5, help="timed windows (the median is reported)")
    parser.add_argument("--warmup", type=int, default=warmup, help="untimed windows first")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out", default=str(REPO / out))
