"""Semi-supervised table (SimCLR Table 7, SimCLR v2 Figure 1 style) at a fixed step budget, on one machine.

For each label fraction and seed: a network trained from scratch, the L-BFGS linear probe on h (trained on
the labelled subset only), fine-tuning from h (SimCLR v1), fine-tuning from head_1 of a 3-layer-head run
(SimCLR v2) and a student distilled from that v2 teacher on all training images (these two only with
--ckpt_v2); every run gets the same number of steps. Then the streamed SGD probe against the L-BFGS probe on h over the whole train split.

    python benchmarks/finetune_table.py --ckpt runs/demo/checkpoints/last.ckpt \
        --ckpt_v2 runs/v2/checkpoints/last.ckpt --steps 300 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from common import REPO, pick_device, print_table, write_json
from torch.utils.data import Subset

from simclr.eval.probe import probe_encoder
from simclr.eval.sgd_probe import SGDProbeRecipe, evaluate_with_sgd
from simclr.finetuning.distill import distill
from simclr.finetuning.finetune import finetune
from simclr.loading.pretrained import load_datamodule, load_pretrained

COLUMNS = ["scratch", "probe_h", "finetune_h", "finetune_head_1", "distill"]


def last_top1(out: Path) -> float:
    """Test top-1 of the last record in out/finetune.json."""
    return json.loads((out / "finetune.json").read_text())[-1]["top1"]


def frozen_h_top1(ckpt: str, root: str | None, device: torch.device, indices: list[int] | None = None) -> float:
    """Linear-probe test top-1 of a checkpoint's frozen h (`simclr.probe_encoder`); train restricted to `indices`."""
    model, data = load_pretrained(ckpt, map_location=device), load_datamodule(ckpt, root)
    layout = torch.channels_last if getattr(model, "channels_last", False) else torch.contiguous_format
    train = data.labelled_dataset("train")
    rows = probe_encoder(model.encoder, Subset(train, indices) if indices is not None else train,
                         data.labelled_dataset("test"), model.augment.normalise, data.num_classes,
                         representations=["h"], knn_on=(), device=device, memory_format=layout)  # fmt: skip
    return rows[0].linear_top1


def one_fraction(args, fraction: float, seed: int, device: torch.device) -> dict:
    """The five columns at one label fraction and seed (runs written to out_dir/runs/<fraction>-<seed>)."""
    out = Path(args.out_dir) / "runs" / f"{fraction:g}-seed{seed}"
    common = dict(label_fraction=fraction, max_steps=args.steps, batch_size=args.batch_size, seed=seed, lr=args.lr,
                  crop_scale=tuple(args.crop_scale), root=args.root, device=str(device), out_dir=str(out))  # fmt: skip
    row = {"label_fraction": fraction, "seed": seed}
    finetune(args.ckpt, init="scratch", from_layer="h", **common)
    row["scratch"] = last_top1(out)
    tuned_h = finetune(args.ckpt, init="simclr", from_layer="h", **common)
    row["finetune_h"] = last_top1(out)
    subset = json.loads(next(out.glob(f"subset_{fraction:g}_seed{seed}.json")).read_text())
    row["probe_h"] = frozen_h_top1(args.ckpt, args.root, device, subset["indices"])
    row["finetune_head_1"] = row["distill"] = None  # without a 3-layer-head run
    if args.ckpt_v2:
        teacher = finetune(args.ckpt_v2, init="simclr", from_layer="head_1", **common)
        row["finetune_head_1"] = last_top1(out)
        distill(str(teacher), max_steps=args.steps, batch_size=args.batch_size, seed=seed, lr=args.lr, root=args.root,
                device=str(device), out_dir=str(out))  # fmt: skip
        row["distill"] = last_top1(out)
    row["labelled_images"] = len(subset["indices"])
    del tuned_h
    return row


def probe_solvers(args, device: torch.device) -> list[dict]:
    """L-BFGS (features in memory) against the streamed SGD probe on h over the whole train split."""
    start = time.perf_counter()
    lbfgs = frozen_h_top1(args.ckpt, args.root, device)
    lbfgs_seconds = time.perf_counter() - start
    start = time.perf_counter()
    model, data = load_pretrained(args.ckpt, map_location=device), load_datamodule(args.ckpt, args.root)
    recipe = SGDProbeRecipe(epochs=args.probe_epochs, crop_scale=tuple(args.crop_scale))
    sgd = evaluate_with_sgd(model, data, recipe, device, args.batch_size, ["h"], baselines=False)[0].linear_top1
    return [
        {"solver": "lbfgs", "top1": lbfgs, "seconds": lbfgs_seconds, "epochs": 0},
        {"solver": "sgd", "top1": sgd, "seconds": time.perf_counter() - start, "epochs": args.probe_epochs},
    ]


def markdown(rows: list[dict], solvers: list[dict], steps: int) -> str:
    """The table (top-1 in percent, mean over seeds) and the probe comparison as markdown."""
    lines = [f"Test top-1 (%), mean over seeds, {steps} steps per run.", "",
             "| label fraction | labelled images | " + " | ".join(COLUMNS) + " |", "|---:|---:|" + "---:|" * len(COLUMNS)]  # fmt: skip
    for fraction in dict.fromkeys(r["label_fraction"] for r in rows):
        group = [r for r in rows if r["label_fraction"] == fraction]
        means = [None if group[0][c] is None else 100 * statistics.mean(r[c] for r in group) for c in COLUMNS]
        cells = ["-" if m is None else f"{m:.2f}" for m in means]
        lines.append(f"| {100 * fraction:g}% | {group[0]['labelled_images']} | " + " | ".join(cells) + " |")
    lines += ["", "| probe on h | top-1 | seconds |", "|---|---:|---:|"]
    lines += [f"| {s['solver']} | {100 * s['top1']:.2f} | {s['seconds']:.1f} |" for s in solvers]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ckpt", default=str(REPO / "runs/demo/checkpoints/last.ckpt"), help="2-layer-head pretraining run"
    )
    parser.add_argument("--ckpt_v2", default=None,
                        help="pretraining run with configs/heads/simclr_v2_head.yaml (without: no head_1 / distill columns)")  # fmt: skip
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument(
        "--steps", type=int, default=300, help="optimizer steps of every fine-tuning / distillation run"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--probe_epochs", type=int, default=10, help="epochs of the SGD probe")
    parser.add_argument("--crop_scale", type=float, nargs=2, default=[1.0, 1.0],
                        help="crop area range of fine-tuning, distillation and the SGD probe (1 1: flip only)")  # fmt: skip
    parser.add_argument("--probe", type=int, default=1, help="0: skip the SGD vs L-BFGS probe comparison")
    parser.add_argument("--root", default=None, help="data root, if it moved since pretraining")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out_dir", default=str(REPO / "runs/finetune_table"))
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/cpu/finetune_table.json"))
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    rows = [one_fraction(args, fraction, seed, device) for fraction in args.fractions for seed in args.seeds]
    solvers = probe_solvers(args, device) if args.probe else []
    print_table(rows, ["label_fraction", "seed", "labelled_images", *COLUMNS])
    print_table(solvers, ["solver", "top1", "seconds", "epochs"])
    table = markdown(rows, solvers, args.steps)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).with_suffix(".md").write_text(table)
    write_json(args.out, "finetune_table", device, vars(args), rows + solvers)


if __name__ == "__main__":
    main()
