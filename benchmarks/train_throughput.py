"""End-to-end SimCLR training throughput vs model-only throughput; their ratio is the headline figure.

- end-to-end: `Trainer.fit` of the SimCLR LightningModule on a synthetic in-memory uint8 set held on the
  device (`device_resident=True`): index sampling, gather, two augmented views on the device, encoder,
  head, NT-Xent, backward, optimiser and LR-scheduler step, the online linear probe, TensorBoard logging
  every 50 steps. No validation, no checkpoints, no progress bar.
- model-only: the same encoder + head + loss + optimiser step on pre-made normalised views (no data, no
  augmentation, no Lightning): the best the model step can do on this device.

Images/s counts images (each gives 2 views). `epoch_s` = (dataset_size // batch) x the end-to-end step time,
e.g. a CIFAR-10 epoch for the r18-32 preset with --dataset-size 50000.

    python benchmarks/train_throughput.py --presets r18-32 r50-224                   # a GPU machine
    python benchmarks/train_throughput.py --presets tiny --iters 2 --repeats 1 --warmup 1   # CI
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import lightning as L
import torch
from common import add_timing_arguments, median, pick_device, print_table, synchronize, time_windows, write_json
from lightning.pytorch.loggers import TensorBoardLogger

from augmentations import MultiView, simclr_cifar, simclr_imagenet
from simclr.data.datamodules import ImageDataModule
from simclr.data.datasets import TensorImages
from simclr.losses.nt_xent import NTXentLoss
from simclr.methods.simclr import SimCLR
from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead
from simclr.training.lars import LARS
from simclr.training.online_probe import OnlineLinearProbe
from simclr.training.optim import param_groups

# name: (layers, bottleneck, cifar_stem, width, view size, source size, batch, dataset size)
PRESETS = {
    "r18-32": ([2, 2, 2, 2], False, True, 64, 32, 32, 512, 50000),  # CIFAR-10 shape, SimCLR's CIFAR recipe
    "r50-224": ([3, 4, 6, 3], True, False, 64, 224, 256, 256, 2048),  # ImageNet shape, 256 px sources
    "tiny": ([1, 1, 1, 1], False, True, 8, 16, 16, 8, 64),  # CI smoke test
}
OPTIMIZERS = {
    "lars": lambda params: LARS(params, lr=0.3, momentum=0.9, weight_decay=1e-6),
    "adamw-fused": lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-6, fused=True),
    "sgd-fused": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-6, fused=True),
}


class SyntheticImages(ImageDataModule):
    """Random uint8 RGB images with random labels, made in memory (same loaders as the real sets)."""

    num_classes, channels = 10, 3

    def __init__(self, size: int, length: int, **kwargs):
        super().__init__(root="", **kwargs)
        self.image_size, self.length = size, length

    def load(self, split: str) -> TensorImages:
        gen = torch.Generator().manual_seed(0 if split == "train" else 1)
        images = torch.randint(
            0, 256, (self.length, 3, self.image_size, self.image_size), dtype=torch.uint8, generator=gen
        )
        return TensorImages(images, torch.randint(0, 10, (self.length,), generator=gen))


class WindowTimer(L.Callback):
    """Device-synchronised time of each window of `iters` training steps (first mark before step 0)."""

    def __init__(self, iters: int):
        self.iters, self.marks = iters, []

    def mark(self, pl_module) -> None:
        synchronize(pl_module.device)
        self.marks.append(time.perf_counter())

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 0 and not self.marks:
            self.mark(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % self.iters == 0:
            self.mark(pl_module)

    def windows(self) -> list[float]:
        """Seconds per step of each window."""
        return [(b - a) / self.iters for a, b in zip(self.marks, self.marks[1:])]


def build_model(preset: tuple, args) -> SimCLR:
    layers, bottleneck, cifar_stem, width, size = preset[:5]
    recipe = simclr_cifar(size) if size <= 32 else simclr_imagenet(size)
    return SimCLR(
        encoder=ResNetEncoder(layers=layers, bottleneck=bottleneck, cifar_stem=cifar_stem, in_channels=3, width=width),
        augment=MultiView(recipe, n_views=2),
        head=lambda dim: ProjectionHead(dim, hidden_dim=2048, out_dim=128),
        loss=NTXentLoss(temperature=0.5),
        optimizer=OPTIMIZERS[args.optimizer],
        warmup_epochs=0.0,
        channels_last=args.channels_last,
        compile=args.compile,
    )


def end_to_end(preset: tuple, args, device: torch.device, batch: int, dataset_size: int) -> list[float]:
    """Seconds per step of each timed window of `Trainer.fit` (warm-up windows dropped)."""
    source = preset[5]
    data = SyntheticImages(source, max(dataset_size, batch), batch_size=batch, device_resident=True)
    timer = WindowTimer(args.iters)
    with tempfile.TemporaryDirectory() as logs, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(on_after_batch_transfer|LeafSpec|val_dataloader|num_workers).*")
        trainer = L.Trainer(
            accelerator=device.type, devices=1, precision=args.precision, max_steps=(args.warmup + args.repeats) * args.iters,
            limit_val_batches=0, logger=TensorBoardLogger(logs, name=""), log_every_n_steps=50, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, callbacks=[OnlineLinearProbe(num_classes=10), timer],
        )  # fmt: skip
        trainer.fit(build_model(preset, args), datamodule=data)
    return timer.windows()[args.warmup :]


def model_only(preset: tuple, args, device: torch.device, batch: int) -> list[float]:
    """Seconds per step of the encoder + head + loss + optimiser on pre-made views."""
    model = build_model(preset, args).to(device)
    optimizer = model.optimizer_factory(param_groups(model))
    size = preset[4]
    x = torch.randn(2 * batch, 3, size, size, device=device)  # (2B, C, H, W) two normalised views
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    dtype = (
        torch.bfloat16
        if args.precision.startswith("bf16")
        else torch.float16
        if args.precision.startswith("16")
        else None
    )

    def step():
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            z = model.head(model.encoder(x))  # (2B, 128)
            loss = model.loss(z[:batch], z[batch:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    return time_windows(step, device, args.iters, args.repeats, args.warmup)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=["r18-32", "r50-224"])
    parser.add_argument("--batch", type=int, default=None, help="override the presets' batch size")
    parser.add_argument("--dataset-size", type=int, default=None, help="override the presets' synthetic set size")
    parser.add_argument(
        "--precision", default=None, help="Lightning precision; default bf16-mixed on CUDA, 32-true on CPU"
    )
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=False, help="torch.compile encoder and head"
    )
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="lars")
    parser.add_argument(
        "--modes", nargs="+", choices=["end-to-end", "model-only"], default=["end-to-end", "model-only"]
    )
    add_timing_arguments(parser, iters=10, warmup=2, out="benchmarks/results/train_throughput.json", unit="steps")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    args.precision = args.precision or ("bf16-mixed" if device.type == "cuda" else "32-true")
    torch.set_float32_matmul_precision("high")  # as the CLI sets it
    torch.backends.cudnn.benchmark = True  # as configs/trainer/gpu.yaml sets it; both modes see it
    rows = []
    for name in args.presets:
        preset = PRESETS[name]
        batch, dataset_size = args.batch or preset[6], args.dataset_size or preset[7]
        row = {
            "preset": name,
            "image_size": preset[4],
            "source_size": preset[5],
            "batch": batch,
            "dataset_size": dataset_size,
        }
        for mode in args.modes:
            torch.manual_seed(0)
            times = (
                end_to_end(preset, args, device, batch, dataset_size)
                if mode == "end-to-end"
                else model_only(preset, args, device, batch)
            )
            key = mode.replace("-", "_")
            row[f"{key}_s_per_step"], row[f"{key}_images_per_s"], row[f"{key}_times_s"] = (
                median(times),
                batch / median(times),
                times,
            )
        if len(args.modes) == 2:
            row["ratio"] = row["end_to_end_images_per_s"] / row["model_only_images_per_s"]
        if "end-to-end" in args.modes:
            row["epoch_s"] = dataset_size // batch * row["end_to_end_s_per_step"]
        rows.append(row)
    columns = [
        "preset",
        "image_size",
        "batch",
        "end_to_end_images_per_s",
        "model_only_images_per_s",
        "ratio",
        "epoch_s",
    ]
    print_table(rows, columns)
    write_json(args.out, "train_throughput", device, vars(args), rows)
    return rows


if __name__ == "__main__":
    main()
