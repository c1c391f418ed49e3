"""`simclr finetune`: fine-tune a pretrained encoder (and head layers) with a few labels, or train it from scratch.

    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --from h --out_dir runs/ft
    simclr finetune --ckpt runs/v2/checkpoints/last.ckpt --label_fraction 0.01 --from head_1 --out_dir runs/ft
    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --init scratch --out_dir runs/ft

Writes into --out_dir: the subset's index file, TensorBoard curves, checkpoints (exportable with `simclr
export`), and a record appended to finetune.json / finetune.md.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import jsonargparse
import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, Dataset, Subset

from simclr.cli.finetuned import RunRecord, is_finetuned
from simclr.cli.pretrained import load_datamodule, load_pretrained
from simclr.cli.probe import resolve_device
from simclr.data.base import ImageDataModule
from simclr.data.datasets import collate_batch
from simclr.data.subsets import LabelSubset, check_fraction, dataset_labels, split_description
from simclr.errors import UserError
from simclr.eval.features import projection_head, representation_names
from simclr.eval.finetune_report import append_record, make_record
from simclr.methods.finetune import FineTuner, layers_up_to
from simclr.training.checkpoints import AtomicCheckpointIO
from simclr.training.lightning_internals import build_with_config
from simclr.training.run_folder import writable_folder
from simclr.training.safe_loading import read_checkpoint

DEFAULT_EPOCHS = 30  # SimCLR fine-tunes 60 epochs on 1% of ImageNet, 30 on 10%
DEFAULT_FRACTION = 0.01  # 1% of the labels, SimCLR's smallest setting
# Area range of the fine-tuning crops. (1, 1) = flip only: on 28 px Fashion-MNIST, crops of (0.2, 1) / (0.5, 1) /
# (0.8, 1) cost 5.7 / 4.6 / 2.0 points of test top-1 at 10% labels and 300 steps (docs/finetune.md); pass
# e.g. --crop_scale "[0.08, 1]" for the paper's ImageNet crops.
CROP_SCALE = (1.0, 1.0)


def check_budget(epochs: int | None, max_steps: int | None, lr: float, batch_size: int) -> None:
    """One-line UserErrors for a training budget or optimiser option no run can use."""
    for name, value in (("epochs", epochs), ("max_steps", max_steps), ("batch_size", batch_size)):
        if value is not None and value < 1:
            raise UserError(f"--{name} is {value}; pass a positive number")
    if not lr > 0:
        raise UserError(f"--lr is {lr}; pass a positive learning rate, e.g. --lr 0.05")


def check_crop_scale(crop_scale: tuple[float, float]) -> None:
    """A one-line UserError unless 0 < low <= high <= 1."""
    low, high = crop_scale
    if not 0 < low <= high <= 1:
        raise UserError(f"--crop_scale {list(crop_scale)} must satisfy 0 < low <= high <= 1, e.g. [0.08, 1] or [1, 1]")


def augment_config(
    mean: list[float], std: list[float], size: int, crop_scale: tuple[float, float] = CROP_SCALE
) -> dict[str, Any]:
    """The fine-tuning augmentation as a config: random resized crop to `size` (area in `crop_scale`) and
    horizontal flip, then the pretraining normalisation (mean, std per channel)."""
    return {
        "class_path": "augmentations.ViewPipeline",
        "init_args": {
            "transforms": [
                {
                    "class_path": "augmentations.RandomResizedCrop",
                    "init_args": {"size": size, "scale": list(crop_scale)},
                },
                {"class_path": "augmentations.RandomHorizontalFlip", "init_args": {"p": 0.5}},
            ],
            "mean": mean,
            "std": std,
        },
    }


def normalisation_of(model: torch.nn.Module, ckpt: str) -> tuple[list[float], list[float]]:
    """(mean, std) per channel of a pretrained model's augmentation pipeline."""
    pipeline = getattr(model.augment, "pipeline", model.augment)
    mean, std = getattr(pipeline, "mean", None), getattr(pipeline, "std", None)
    if not isinstance(mean, torch.Tensor) or not isinstance(std, torch.Tensor):
        raise UserError(
            f"checkpoint {ckpt} records no normalisation (mean, std) in its pipeline; pretrain with augmentations.ViewPipeline"
        )
    return mean.flatten().tolist(), std.flatten().tolist()


def sgd_config(lr: float) -> dict[str, Any]:
    """SGD with Nesterov momentum 0.9 and no weight decay (SimCLR v2's fine-tuning has none)."""
    return {"class_path": "torch.optim.SGD", "init_args": {"lr": lr, "momentum": 0.9, "nesterov": True}}


def labelled_subset(data: ImageDataModule, label_fraction: float, seed: int, subset: str | None) -> LabelSubset:
    """The subset read from `subset` (checked against this dataset), or a new one drawn with `seed`."""
    train = data.labelled_dataset("train")
    description = split_description(type(data).__name__, len(train), data.num_classes)
    if subset:
        return LabelSubset.read(subset, description, len(train))
    return LabelSubset.draw(dataset_labels(train), data.num_classes, label_fraction, seed, description)


def train_loader(dataset: Dataset, batch_size: int, seed: int) -> DataLoader:
    """Shuffled uint8 batches in an order fixed by `seed`; a last batch of one image (BatchNorm cannot train on it) is dropped."""
    batch_size = min(batch_size, len(dataset))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        drop_last=len(dataset) % batch_size == 1,
        collate_fn=collate_batch,
    )


def test_loader(data: ImageDataModule, batch_size: int) -> DataLoader:
    """The test split's uint8 batches, in order."""
    return DataLoader(data.labelled_dataset("test"), batch_size=batch_size, shuffle=False, collate_fn=collate_batch)


def make_trainer(
    out: Path, run_name: str, device: torch.device, epochs: int | None, max_steps: int | None, callbacks: list[Callback]
) -> L.Trainer:
    """A trainer that logs to TensorBoard under out/<run_name> and checkpoints to out/checkpoints/<run_name>.ckpt."""
    return L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=[device.index or 0] if device.type == "cuda" else 1,
        max_epochs=epochs if epochs is not None else (None if max_steps else DEFAULT_EPOCHS),
        max_steps=max_steps if max_steps is not None else -1,
        logger=TensorBoardLogger(str(out), name=run_name),
        callbacks=[
            ModelCheckpoint(dirpath=out / "checkpoints", filename=run_name),
            LearningRateMonitor(logging_interval="step"),
            *callbacks,
        ],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def train_and_test(
    trainer: L.Trainer, model: L.LightningModule, train: DataLoader, test: DataLoader
) -> tuple[float, float]:
    """Fits `model`, then scores it on `test`; returns (test top-1, epochs trained)."""
    trainer.fit(model, train)
    top1 = float(trainer.test(model, test, verbose=False)[0]["test/top1"])
    return top1, trainer.global_step / max(1, len(train))


def finetune(
    ckpt: str,
    label_fraction: float | None = None,
    init: Literal["simclr", "scratch"] = "simclr",
    from_layer: str = "h",
    out_dir: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    lr: float = 0.05,
    batch_size: int = 256,
    seed: int = 0,
    subset: str | None = None,
    crop_scale: tuple[float, float] = CROP_SCALE,
    root: str | None = None,
    device: str = "auto",
    weights_only: bool = True,
) -> Path:
    """Fine-tune the encoder of a pretraining checkpoint (and head layers up to --from) with a linear classifier
    on a class-balanced labelled subset; test top-1 on the test split is appended to finetune.json / .md.

    Args:
        ckpt: checkpoint written by `simclr fit`.
        label_fraction: share of each class's training labels used, in (0, 1] (default 0.01, 1%; with --subset,
            the file's).
        init: simclr (the pretrained weights) or scratch (the same architecture, freshly initialised).
        from_layer: fine-tune from h, or keep the head up to head_1, head_2, ... or z (SimCLR v2: head_1).
        out_dir: where the subset file, logs, checkpoints and finetune.json go; default: <ckpt folder>/finetune.
        epochs: passes over the labelled subset (default 30 unless --max_steps is given).
        max_steps: optimizer steps; with --epochs, training stops at whichever comes first.
        lr: SGD (Nesterov momentum 0.9) learning rate, decayed to 0 by a cosine schedule.
        batch_size: labelled images per step (at most the subset's size).
        seed: seeds the subset, the classifier's initialisation, the data order and the augmentations.
        subset: a subset index file (subset_*.json of an earlier run) to reuse instead of drawing one.
        crop_scale: area range of the random resized crops (before the flip); [1, 1] = flip only.
        root: override the data root of the checkpoint's data module (data moved since pretraining).
        device: "cpu", "cuda" or "auto" (CUDA when available).
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
    """
    if label_fraction is not None:
        check_fraction(label_fraction)
    check_budget(epochs, max_steps, lr, batch_size)
    check_crop_scale(crop_scale)
    dev = resolve_device(device)
    out = writable_folder(out_dir if out_dir else Path(ckpt).parent / "finetune", "--out_dir")
    checkpoint = read_checkpoint(ckpt, weights_only)
    if is_finetuned(checkpoint):
        raise UserError(
            f"checkpoint {ckpt} is a fine-tuned model, not a pretraining run; pass the .ckpt written by `simclr fit` "
            f"(or distil this one: simclr distill --teacher {ckpt})"
        )
    pretrained = load_pretrained(ckpt, weights_only=weights_only)
    layers = layers_up_to(from_layer, representation_names(projection_head(pretrained.head)))
    data = load_datamodule(ckpt, root, weights_only)
    labelled = labelled_subset(data, DEFAULT_FRACTION if label_fraction is None else label_fraction, seed, subset)
    if subset and label_fraction is not None and label_fraction != labelled.label_fraction:
        raise UserError(
            f"--label_fraction {label_fraction} but --subset {subset} holds a {labelled.label_fraction:g} subset; "
            f"drop one of the two"
        )
    subset_path = labelled.save(out / f"subset_{labelled.label_fraction:g}_seed{labelled.seed}.json")
    hparams = checkpoint["hyper_parameters"]
    config = {
        "encoder": hparams["encoder"],
        "head": hparams.get("head"),
        "num_classes": data.num_classes,
        "augment": augment_config(*normalisation_of(pretrained, ckpt), data.image_size, tuple(crop_scale)),
        "layers": layers,
        "optimizer": sgd_config(lr),
        "channels_last": bool(hparams.get("channels_last", False)),
    }
    L.seed_everything(seed, verbose=False)
    model = build_with_config(FineTuner, config)
    if init == "simclr":
        model.load_pretrained_parts(pretrained.encoder, list(pretrained.head.layers)[:layers] if layers else [])
    run_name = f"{init}-from_{from_layer}-{labelled.label_fraction:g}-seed{seed}"
    record_cb = RunRecord(checkpoint.get("datamodule_hyper_parameters") or {}, labelled)
    trainer = make_trainer(out, run_name, dev, epochs, max_steps, [record_cb])
    train = train_loader(Subset(data.labelled_dataset("train"), labelled.indices), batch_size, seed)
    top1, trained_epochs = train_and_test(trainer, model, train, test_loader(data, batch_size))
    record = make_record(init, from_layer, labelled.label_fraction, len(labelled.indices), top1, trained_epochs)
    md, js = append_record(out, record, header=f"# Fine-tuning\n\nTest set: {data.test_set_description()}.")
    saved = trainer.checkpoint_callback.best_model_path
    print(
        f"{init} from {from_layer}, {len(labelled.indices)} labelled images ({subset_path.name}): test top-1 {100 * top1:.2f}%"
    )
    print(f"wrote {md}, {js} and {saved}")
    return Path(saved)


def parser(function, prog: str) -> jsonargparse.ArgumentParser:
    """The options of `function` (from its signature and docstring), with `from_layer` spelled `--from`."""
    p = jsonargparse.ArgumentParser(
        prog=prog, description=(function.__doc__ or "").split("\n\n")[0], exit_on_error=False
    )
    takes_layer = "from_layer" in inspect.signature(function).parameters
    p.add_function_arguments(function, as_positional=False, skip={"from_layer"} if takes_layer else None)
    if takes_layer:
        p.add_argument(
            "--from", dest="from_layer", default="h", help="h, head_1, ..., z: the layer the classifier reads."
        )
    return p


def run_finetune(args: list[str]) -> Path:
    """`simclr finetune ARGS`."""
    config = parser(finetune, "simclr finetune").parse_args(args)
    return finetune(**config.as_dict())
