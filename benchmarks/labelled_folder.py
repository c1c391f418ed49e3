"""Fine-tuning on a user's own small labelled image folder: a class-balanced ImageFolder written from
Fashion-MNIST's test split (images the `make demo` pretraining never saw), pretrained on with `simclr fit`,
then the three rows of `simclr finetune` (frozen probe on h, LP-FT from h, scratch) at each label fraction
and seed, through `benchmarks/finetune_table.py`.

    OMP_NUM_THREADS=1 python benchmarks/labelled_folder.py --seeds 0 1 2 \
        --out benchmarks/results/cpu/finetune_table_folder.json

The folder: `--train_per_class` (400) greyscale 28 px PNGs a class in train/<class>/ and `--test_per_class`
(100) in test/<class>/, the first images of each class in the test split's order (4000 and 1000 in all, ten
classes). Pretraining: `configs/fashion_mnist.yaml` with `configs/trainer/cpu_demo.yaml`, the folder as
`simclr.data.ImageFolder` (`channels: 1`), batches of 128, `--epochs` (30) over the 4000 training images,
seed 0, without the online probe. Everything lives in `--out_dir`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import finetune_table
import torch
from common import REPO
from torchvision.io import encode_png

import simclr
from simclr.data.readers import read_fashion_mnist


def write_folder(fm_root: str, folder: Path, train_per_class: int, test_per_class: int) -> tuple[int, int]:
    """folder/train/<class>/*.png and folder/test/<class>/*.png from the test split; (train, test) image counts."""
    images, labels = read_fashion_mnist(fm_root, train=False)  # (N, 1, 28, 28) uint8, (N,) int64
    names = [name.replace("/", "-") for name in simclr.FashionMNIST.class_names]
    counts = [0, 0]
    for label, name in enumerate(names):
        positions = (labels == label).nonzero().flatten()[: train_per_class + test_per_class]
        if len(positions) < train_per_class + test_per_class:
            raise SystemExit(f"class {name} has {len(positions)} test images; lower --train_per_class/--test_per_class")
        for k, position in enumerate(positions.tolist()):
            split = 0 if k < train_per_class else 1
            path = folder / ("train", "test")[split] / name / f"{position:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_png(images[position]).numpy().tobytes())
            counts[split] += 1
    return counts[0], counts[1]


def pretrain(folder: Path, run: Path, epochs: int, batch_size: int) -> Path:
    """`simclr fit` on the folder's train images; the last checkpoint's path."""
    args = ["fit", "--config", "fashion_mnist", "--config", "trainer/cpu_demo", "--seed_everything", "0",
            "--trainer.max_epochs", str(epochs), "--trainer.max_steps", "-1", "--trainer.callbacks", "[]",
            "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(run),
            "--trainer.logger.init_args.name", "", "--trainer.logger.init_args.version", "",
            "--checkpoint.dirpath", str(run / "checkpoints"),
            "--data", "simclr.data.ImageFolder", "--data.init_args.root", str(folder / "train"),
            "--data.init_args.val_root", str(folder / "test"), "--data.init_args.image_size", "28",
            "--data.init_args.channels", "1", "--data.init_args.batch_size", str(batch_size),
            "--data.init_args.num_workers", "2"]  # fmt: skip
    cli = simclr.run_fit(args)
    return Path(cli.trainer.checkpoint_callback.last_model_path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fm_root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--train_per_class", type=int, default=400)
    p.add_argument("--test_per_class", type=int, default=100)
    p.add_argument("--epochs", type=int, default=30, help="pretraining epochs over the folder's train images")
    p.add_argument("--batch_size", type=int, default=128, help="pretraining and fine-tuning batch")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 1.0])
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps of every fine-tuned row (default: finetune's, 30 epochs, at least 500)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out_dir", type=Path, default=REPO / "runs/labelled_folder")
    p.add_argument("--out", default=str(REPO / "benchmarks/results/cpu/finetune_table_folder.json"))
    args = p.parse_args(argv)
    folder = args.out_dir / "images"
    if not (folder / "test").is_dir():
        train, test = write_folder(args.fm_root, folder, args.train_per_class, args.test_per_class)
        print(f"wrote {train} train and {test} test images")
    ckpt = args.out_dir / "pretrain" / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        start = time.perf_counter()
        ckpt = pretrain(folder, args.out_dir / "pretrain", args.epochs, args.batch_size)
        print(f"pretrained in {time.perf_counter() - start:.0f} s: {ckpt}")
    torch.manual_seed(0)
    finetune_table.main(["--ckpt", str(ckpt), "--fractions", *map(str, args.fractions),
                         "--seeds", *map(str, args.seeds), "--batch_size", str(args.batch_size), "--probe", "0",
                         *(["--steps", str(args.steps)] if args.steps else []),
                         "--out_dir", str(args.out_dir / "finetune"), "--out", args.out])  # fmt: skip


if __name__ == "__main__":
    main()
