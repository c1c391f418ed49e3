"""Semi-supervised table (SimCLR Table 7, SimCLR v2 Figure 1 style) with the recipe of `simclr finetune`.

For each label fraction and seed, one `finetune(..., compare=True)` from h gives three columns on the same
labelled subset and test set: the L-BFGS linear probe on frozen h (trained on the labelled subset only),
LP-FT from h (SimCLR v1's layer) and the same network from scratch. With --ckpt_v2 (a 3-layer-head run),
LP-FT from head_1 (SimCLR v2) adds its probe on head_1 and its fine-tuned column, and a student distilled from
that teacher on all training images the last one. Every trained run gets the same budget: --steps, or the
command's default (30 epochs over the labelled subset, at least 500 steps; the student gets its teacher's). Then the streamed SGD probe against the L-BFGS probe on h
over the whole train split.

    python benchmarks/finetune_table.py --ckpt runs/demo/checkpoints/last.ckpt \
        --ckpt_v2 runs/v2/checkpoints/last.ckpt --fractions 0.01 0.1 --seeds 0 1 2
    python benchmarks/finetune_table.py --render   # docs/finetune.md's tables from the committed JSONs
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import REPO, pick_device, print_table, write_json
from finetune_page import COLUMNS, PAGE, render_committed, render_tables
from torch.utils.data import Subset

from simclr.eval.probe import probe_encoder
from simclr.eval.sgd_probe import SGDProbeRecipe, evaluate_with_sgd
from simclr.finetuning.distill import distill
from simclr.finetuning.finetune import finetune
from simclr.loading.pretrained import load_datamodule, load_pretrained


def last_comparison(out: Path) -> dict[str, dict]:
    """The rows of the last comparison in out/finetune.json, by recipe (probe, lp-ft, scratch, distill, ...)."""
    records = json.loads((out / "finetune.json").read_text())
    return {r["recipe"]: r for r in records if r["comparison"] == records[-1]["comparison"]}


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
    """The columns at one label fraction and seed (runs written to out_dir/runs/<fraction>-<seed>)."""
    out = Path(args.out_dir) / "runs" / f"{fraction:g}-seed{seed}"
    budget = dict(max_steps=args.steps, batch_size=args.batch_size, seed=seed, lr=args.lr, root=args.root,
                  device=str(device), out_dir=str(out))  # fmt: skip
    common = dict(label_fraction=fraction, crop_scale=tuple(args.crop_scale), encoder_lr_ratio=args.encoder_lr_ratio,
                  bn=args.bn, **budget)  # fmt: skip
    finetune(args.ckpt, from_layer="h", compare=True, **common)
    rows = last_comparison(out)
    row = {"label_fraction": fraction, "seed": seed, "labelled_images": rows["lp-ft"]["labelled_images"],
           "steps": rows["lp-ft"]["steps"], "scratch": rows["scratch"]["top1"], "probe_h": rows["probe"]["top1"],
           "finetune_h": rows["lp-ft"]["top1"], "probe_head_1": None, "finetune_head_1": None, "distill": None}  # fmt: skip
    if args.ckpt_v2:
        teacher = finetune(args.ckpt_v2, from_layer="head_1", compare=False, **common)
        rows = last_comparison(out)
        row["probe_head_1"], row["finetune_head_1"] = rows["probe"]["top1"], rows["lp-ft"]["top1"]
        distill(str(teacher), **{**budget, "max_steps": rows["lp-ft"]["steps"]})  # the teacher's budget
        row["distill"] = last_comparison(out)["distill"]["top1"]
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ckpt", default=str(REPO / "runs/demo/checkpoints/last.ckpt"), help="2-layer-head pretraining run"
    )
    parser.add_argument("--ckpt_v2", default=None,
                        help="pretraining run with configs/heads/simclr_v2_head.yaml (without: no head_1 / distill columns)")  # fmt: skip
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--steps", type=int, default=None,
                        help="optimizer steps of every trained run (default: the command's, 30 epochs, at least 500)")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument(
        "--lr", type=float, default=0.05, help="the classifier's (scratch: every layer's) learning rate"
    )
    parser.add_argument("--encoder_lr_ratio", type=float, default=None, help="LP-FT encoder lr / --lr (default 0.1)")
    parser.add_argument("--bn", choices=["train", "frozen"], default=None, help="LP-FT BatchNorm (default train)")
    parser.add_argument("--probe_epochs", type=int, default=10, help="epochs of the SGD probe")
    parser.add_argument("--crop_scale", type=float, nargs=2, default=[1.0, 1.0],
                        help="crop area range of fine-tuning, distillation and the SGD probe (1 1: flip only)")  # fmt: skip
    parser.add_argument("--probe", type=int, default=1, help="0: skip the SGD vs L-BFGS probe comparison")
    parser.add_argument("--root", default=None, help="data root, if it moved since pretraining")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out_dir", default=str(REPO / "runs/finetune_table"))
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/cpu/finetune_table.json"))
    parser.add_argument("--render", action="store_true",
                        help=f"train nothing: render {PAGE}'s tables from the committed JSONs that exist "
                        "(blocks without one are left as they are)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.render:
        (REPO / PAGE).write_text(render_committed())
        print(f"rendered {PAGE}")
        return
    device = pick_device(args.device)
    rows = [one_fraction(args, fraction, seed, device) for fraction in args.fractions for seed in args.seeds]
    solvers = probe_solvers(args, device) if args.probe else []
    print_table(rows, ["label_fraction", "seed", "labelled_images", "steps", *COLUMNS])
    print_table(solvers, ["solver", "top1", "seconds", "epochs"])
    out = write_json(args.out, "finetune_table", device, vars(args), rows + solvers)
    out.with_suffix(".md").write_text(render_tables(json.loads(out.read_text()), args.out))  # the page's tables


if __name__ == "__main__":
    main()
