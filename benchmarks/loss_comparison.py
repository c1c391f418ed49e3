"""NT-Xent vs sigmoid loss across batch sizes, and negative pruning, on Fashion-MNIST at a fixed budget.

Each run pretrains the model pinned in `MODEL` below (a ResNet-10 with stage widths 48-768, AdamW, 2 views),
passed to `simclr fit` as overrides, printed and recorded in the JSON, so the runs do not change when
`configs/fashion_mnist.yaml` does (that file supplies the data module and the online-probe callback). Each run
uses one loss (`LOSSES`) for the same number of images (`--images`, drawn as shuffled batches of the full train
split, so smaller batches take more steps), then fits a linear probe on frozen h (full-batch L-BFGS,
`simclr.eval.linear_probe`) on the first `--probe_train` train images and scores top-1 on the 10000 test images.
A randomly initialised encoder of the same architecture is probed the same way as the floor. One run per cell
(seed 0).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/loss_comparison.py --root /usr/share/datasets/fashion-mnist

Prints both tables (markdown) and writes them with the machine's description, the pinned settings and each run's
`simclr fit` arguments to `<out>/loss_comparison.json`.
"""

import argparse
import json
import logging
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import Subset

from simclr.eval.evaluate import random_encoder_like
from simclr.eval.probe import probe_encoder
from simclr.pretraining import run_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BASE = CONFIGS / "fashion_mnist.yaml"  # the data module (Fashion-MNIST, uint8 in memory); the model is pinned below
MODEL = {  # `simclr fit` overrides that define every run, whatever BASE says
    "seed_everything": "0",
    "model.encoder": "simclr.models.ResNetEncoder",
    "model.encoder.init_args.layers": "[1, 1, 1, 1]",  # one BasicBlock per stage ("ResNet-10")
    "model.encoder.init_args.stage_widths": "[48, 96, 192, 768]",  # h is 768-d
    "model.encoder.init_args.bottleneck": "false",
    "model.encoder.init_args.cifar_stem": "false",  # 7x7 stride-2 stem + max-pool: 28 px -> 7 px
    "model.encoder.init_args.in_channels": "1",
    "model.encoder.init_args.small_map_gemm": "false",
    "model.head": "simclr.models.ProjectionHead",
    "model.head.init_args.hidden_dim": "512",
    "model.head.init_args.out_dim": "128",
    "model.head.init_args.num_layers": "2",
    "model.augment": "augmentations.MultiView",
    "model.augment.init_args.n_views": "2",
    "model.augment.init_args.pipeline": "augmentations.presets.simclr_fashion_mnist",
    "model.augment.init_args.pipeline.init_args.size": "28",
    "model.augment.init_args.pipeline.init_args.strength": "0.5",
    "model.optimizer": "torch.optim.AdamW",
    "model.optimizer.init_args.lr": "2.0e-3",
    "model.optimizer.init_args.weight_decay": "1.0e-6",
    "model.warmup_epochs": "0.2",  # of the run's one epoch: linear warmup over 20% of the steps, then cosine to 0
    "model.channels_last": "true",
    "trainer.accelerator": "cpu",
    "trainer.devices": "1",
    "trainer.precision": "32-true",
}
LOSSES = {  # the loss of each column; the pruning runs add `pruning` to "nt_xent"
    "nt_xent": {"model.loss": "simclr.losses.NTXentLoss", "model.loss.init_args.temperature": "0.2"},
    "sigmoid": {  # SigLIP: learnt t = 1 / tau from 10 and b from -10
        "model.loss": "simclr.losses.SigmoidLoss",
        "model.loss.init_args.temperature": "0.1",
        "model.loss.init_args.bias": "-10.0",
        "model.loss.init_args.learnable": "true",
    },
}
DROPS = ["hardest", "easiest", "random"]  # NegativePruning(drop=...): which negatives leave the loss


def overrides(settings: dict[str, str]) -> list[str]:
    """{"a.b": "v"} -> ["--a.b", "v"]."""
    return [arg for key, value in settings.items() for arg in (f"--{key}", value)]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def probe_h(encoder, normalise, datamodule, probe_train: int) -> float:
    """Linear top-1 of frozen h: train on the first `probe_train` train images, test on the test split."""
    train = Subset(datamodule.labelled_dataset("train"), range(probe_train))
    test = datamodule.labelled_dataset("test")
    rows = probe_encoder(encoder, train, test, normalise, datamodule.num_classes, representations=["h"], knn_on=())
    return rows[0].linear_top1


def pretrain_and_probe(name: str, settings: dict[str, str], batch: int, args) -> tuple[dict, object]:
    """One `simclr fit` of MODEL with `settings` (the loss) on `args.images` images, then the h probe."""
    start = time.perf_counter()
    fit_args = [
        "fit",
        "--config",
        str(BASE),
        *overrides(MODEL),
        *overrides(settings),
        "--data.init_args.root",
        args.root,
        "--data.init_args.batch_size",
        str(batch),
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        str(args.images // batch),
        "--trainer.limit_val_batches",
        "0",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.log_every_n_steps",
        "1",
        "--trainer.logger.init_args.save_dir",
        str(Path(args.out) / name),
        "--trainer.logger.init_args.name",
        "",
    ]
    cli = run_fit(fit_args)
    train_s = time.perf_counter() - start
    top1 = probe_h(cli.model.encoder, cli.model.augment.normalise, cli.datamodule, args.probe_train)
    row = {
        "run": name,
        "batch": batch,
        "steps": cli.trainer.global_step,
        "images": cli.trainer.global_step * batch,
        "h_linear_top1": top1,
        "train_s": round(train_s, 1),
        "total_s": round(time.perf_counter() - start, 1),
        "fit_args": fit_args[1:],  # `simclr fit` with these arguments reruns it
    }
    print(json.dumps(row), flush=True)
    return row, cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--images", type=int, default=16384, help="pretraining images per run (each seen as 2 views)")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--prune_batch", type=int, default=128, help="batch size of the pruning table")
    parser.add_argument("--prune_fraction", type=float, default=0.5)
    parser.add_argument("--probe_train", type=int, default=10000)
    parser.add_argument("--out", default="runs/loss_comparison")
    args = parser.parse_args(argv)
    if argv is None:
        sys.argv = sys.argv[:1]  # run_fit gets its own args; LightningCLI warns when sys.argv has others
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    start = time.perf_counter()
    print(f"every run: simclr fit --config {BASE.relative_to(CONFIGS.parent)} with")
    print("\n".join(f"    --{key} {shlex.quote(value)}" for key, value in MODEL.items()))
    for loss, settings in LOSSES.items():
        print(f"{loss}: " + shlex.join(overrides(settings)))
    print(f"pruning: nt_xent + NegativePruning(fraction={args.prune_fraction}, drop={' | '.join(DROPS)})")
    sys.stdout.flush()

    loss_rows, prune_rows, cli = [], [], None
    for batch in args.batches:
        for loss, settings in LOSSES.items():
            row, cli = pretrain_and_probe(f"{loss}_b{batch}", settings, batch, args)
            loss_rows.append({"loss": loss, **row})
    none = next((r for r in loss_rows if r["loss"] == "nt_xent" and r["batch"] == args.prune_batch), None)
    if none is None:
        none, cli = pretrain_and_probe(f"nt_xent_b{args.prune_batch}", LOSSES["nt_xent"], args.prune_batch, args)
    prune_rows.append({"dropped": "none", **none})
    for drop in DROPS:
        settings = {
            **LOSSES["nt_xent"],
            "model.loss.init_args.pruning": "simclr.losses.pruning.NegativePruning",
            "model.loss.init_args.pruning.init_args.fraction": str(args.prune_fraction),
            "model.loss.init_args.pruning.init_args.drop": drop,
        }
        row, cli = pretrain_and_probe(f"drop_{drop}_b{args.prune_batch}", settings, args.prune_batch, args)
        prune_rows.append({"dropped": drop, **row})

    torch.manual_seed(0)
    random_top1 = probe_h(
        random_encoder_like(cli.model.encoder), cli.model.augment.normalise, cli.datamodule, args.probe_train
    )

    lines = [
        f"NT-Xent vs sigmoid, {args.images} pretraining images per run, h linear top-1 % (random encoder: {100 * random_top1:.2f})",
        "",
        "| batch | steps | NT-Xent | sigmoid |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for batch in args.batches:
        cells = {r["loss"]: r for r in loss_rows if r["batch"] == batch}
        lines.append(
            f"| {batch} | {cells['nt_xent']['steps']} | {100 * cells['nt_xent']['h_linear_top1']:.2f} | {100 * cells['sigmoid']['h_linear_top1']:.2f} |"
        )
    lines += [
        "",
        f"NT-Xent, batch {args.prune_batch}, {args.prune_fraction:.0%} of each anchor's negatives dropped, same steps, h linear top-1 %",
        "",
        "| negatives dropped | h top-1 |",
        "| --- | ---: |",
    ]
    lines += [f"| {r['dropped']} | {100 * r['h_linear_top1']:.2f} |" for r in prune_rows]
    table = "\n".join(lines)
    print(table)
    result = {
        "device": f"{cpu_name()}, {torch.get_num_threads()} threads, no GPU",
        "torch": torch.__version__,
        "args": vars(args),
        "base_config": str(BASE.relative_to(CONFIGS.parent)),
        "model": MODEL,  # the pinned overrides of every run
        "loss_settings": LOSSES,
        "random_encoder_h_top1": random_top1,
        "losses": loss_rows,
        "pruning": prune_rows,
        "wall_s": round(time.perf_counter() - start, 1),
        "table": table,
    }
    out = Path(args.out) / "loss_comparison.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
