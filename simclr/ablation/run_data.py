"""The data file of a comparison: one JSON line per run of `simclr compare` or `simclr compare-augs`, with what
its figures depend on, so that a results page can be rendered from a committed file (`simclr.ablation.pages`).

    {"variant": "b32_300steps", "seed": 0, "baseline": false,
     "metrics": {"h_linear_top1": 0.8132, "h_knn_top1": 0.7312, "train_loss": 4.91, "seconds_per_step": 0.0392},
     "steps": 300, "batch_size": 32, "pairs_seen": 9600, "seconds": 41.3, "threads": 2, "torch": "2.14.1",
     "lightning": "2.6.6", "device": "AMD EPYC 7B13 (2 cores)", "date": "2026-12-01T10:22:03Z",
     "commit": "701e91f...", "dirty": false, "command": "simclr compare",
     "experiment": "configs/experiments/batch_size.yaml", "fit_args": [], "model": "SimCLR"}

Metrics are fractions in [0, 1] for accuracies: `h_linear_top1`, `h_knn_top1` (simclr compare), `z_linear_top1`
(when z is probed), `train_loss`, `seconds_per_step` (simclr compare), `final_loss` and `contrastive_top1`
(simclr compare-augs). `baseline` marks the rows that were not pretrained (random_h, pixels, untrained);
`pairs_seen` is steps x batch size (the images, each a pair of views, a run trained on); `seconds` the run's
wall time (pretraining and probes); `threads` torch.get_num_threads(); `date` the UTC time the command
started; `commit` `git rev-parse HEAD` of the checkout that ran (null outside a git checkout) and `dirty`
whether it had uncommitted changes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import lightning
import torch

from simclr.ablation.method_table import MethodRow
from simclr.ablation.results import UNTRAINED, CompareRow
from simclr.data.json_lines import json_objects
from simclr.devices import device_name
from simclr.errors import UserError
from simclr.safety.output_paths import Inputs, check_folder_path, same_file, written_atomically

RUN_DATA = "runs.jsonl"  # in --out_dir of simclr compare and simclr compare-augs
REQUIRED = ("variant", "seed", "baseline", "metrics")  # keys every row has


def git_commit(folder: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(HEAD commit, uncommitted changes?) of the git checkout holding this package (or `folder`); (None, None)
    when it is not one or git is missing."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parents[2]
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=30, check=True).stdout.strip()  # fmt: skip
        if Path(top).resolve() != folder.resolve():  # an installed copy inside some other repository
            return None, None
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()  # fmt: skip
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def training_device(accelerator: str) -> torch.device:
    """The device a comparison's runs train on for a Lightning `accelerator` ("auto": CUDA when present)."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def environment(device: str | torch.device = "cpu") -> dict:
    """What every row of one command shares: threads, versions, device name, date (now, UTC) and commit."""
    commit, dirty = git_commit()
    return {
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "device": device_name(device),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "dirty": dirty,
    }


def environment_line(accelerator: str = "auto") -> str:
    """`environment` of `accelerator`'s training device as one line, "threads: 2, torch: ..., device: ...,
    date: ..., commit: ...": what a notebook prints at its top, so that a stored run names its machine and date."""
    return ", ".join(f"{key}: {value}" for key, value in environment(training_device(accelerator)).items())


def _row(variant: str, seed: int | None, baseline: bool, metrics: dict, steps: int, batch_size: int | None,
         seconds: float, env: dict, source: dict) -> dict:  # fmt: skip
    pairs = steps * batch_size if batch_size else None
    return {"variant": variant, "seed": seed, "baseline": baseline, "metrics": metrics, "steps": steps,
            "batch_size": batch_size, "pairs_seen": pairs, "seconds": seconds, **env, **source}  # fmt: skip


def method_data(rows: Sequence[MethodRow], env: dict, source: dict) -> list[dict]:
    """Data rows of `simclr compare` runs; `source`: {"command", "experiment", "fit_args"}."""
    out = []
    for r in rows:
        metrics = {"h_linear_top1": r.linear_top1, "h_knn_top1": r.knn_top1}
        if r.z_linear_top1 is not None:
            metrics["z_linear_top1"] = r.z_linear_top1
        metrics |= {"train_loss": r.train_loss, "seconds_per_step": r.seconds_per_step}
        baseline = r.steps == 0 and r.train_loss is None
        out.append(_row(r.method, r.seed, baseline, metrics, r.steps, r.batch_size, r.seconds, env,
                        {**source, "model": r.model}))  # fmt: skip
    return out


def strategy_data(rows: Sequence[CompareRow], env: dict, source: dict) -> list[dict]:
    """Data rows of `simclr compare-augs` runs; `source`: {"command", "experiment", "fit_args"}."""
    out = []
    for r in rows:
        metrics = {"h_linear_top1": r.h_top1, "z_linear_top1": r.z_top1, "final_loss": r.final_loss,
                   "contrastive_top1": r.contrastive_top1, "train_loss": r.train_loss}  # fmt: skip
        out.append(_row(r.strategy, r.seed, r.strategy == UNTRAINED, metrics, r.steps, r.batch_size, r.seconds,
                        env, {**source, "parts": list(r.parts)}))  # fmt: skip
    return out


def method_rows(data: Sequence[dict]) -> list[MethodRow]:
    """The MethodRows of `simclr compare` data rows (for its tables and chart)."""
    return [
        MethodRow(
            d["variant"],
            d.get("model", "-"),
            d["seed"],
            d["metrics"]["h_linear_top1"],
            d["metrics"]["h_knn_top1"],
            d["metrics"].get("train_loss"),
            d["steps"],
            d["metrics"].get("seconds_per_step"),
            d["seconds"],
            d["metrics"].get("z_linear_top1"),
            d.get("batch_size"),
        )  # fmt: skip
        for d in data
    ]


def compare_rows(data: Sequence[dict]) -> list[CompareRow]:
    """The CompareRows of `simclr compare-augs` data rows (for its tables and plots)."""
    return [
        CompareRow(
            d["variant"],
            list(d.get("parts", [])),
            d["metrics"]["h_linear_top1"],
            d["metrics"]["z_linear_top1"],
            d["metrics"].get("final_loss"),
            d["metrics"].get("contrastive_top1"),
            d["metrics"].get("train_loss"),
            d["seconds"],
            d["seed"],
            d["steps"],
            d.get("batch_size"),
        )  # fmt: skip
        for d in data
    ]


def write_run_data(rows: Sequence[dict], path: str | Path) -> Path:
    """Writes the rows as JSON lines (keys in order, one run a line), replacing `path` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as temporary:
        temporary.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def read_run_data(path: str | Path) -> list[dict]:
    """The rows of a data file; a ValueError (a UserError) names the first line that is not a run row."""
    rows = []
    for number, row in json_objects(path):
        if any(key not in row for key in REQUIRED) or not isinstance(row["metrics"], dict):
            raise UserError(f"line {number} of {path} is not a run row (an object with {', '.join(REQUIRED)})")
        rows.append(row)
    return rows


def is_run_data(path: str | Path) -> bool:
    """Whether `path` is a file of run rows (an empty file counts)."""
    try:
        read_run_data(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return True


def check_data_file(path: str | Path, inputs: Inputs, outputs: Sequence[Path], overwrite: bool) -> None:
    """A one-line UserError unless `--data_file path` may be written: not a folder, not an input or another
    output of the command, and new, a data file already (a page's committed data), or `overwrite`."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--data_file {path} is a folder; pass a file, e.g. docs/results/data/<page>.jsonl")
    check_folder_path(path.parent, "--data_file's folder")
    for option, input_path in inputs:
        if same_file(path, input_path):
            raise UserError(f"--data_file {path} is {option} {input_path} (the same file); pass another --data_file")
    for output in outputs:
        if same_file(path, output):
            raise UserError(f"--data_file {path} is the command's own {output.name}; pass another --data_file")
    if path.exists() and not overwrite and not is_run_data(path):
        raise UserError(
            f"--data_file {path} exists and is not a data file of runs (JSON lines); pass another --data_file, "
            f"or --overwrite true to replace it"
        )
