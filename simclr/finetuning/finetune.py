"""`simclr finetune`: fine-tune a pretrained encoder (and head layers) with a few labels, or train it from scratch.

    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --from h --out_dir runs/ft
    simclr finetune --ckpt runs/v2/checkpoints/last.ckpt --label_fraction 0.01 --from head_1 --out_dir runs/ft
    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --init scratch --out_dir runs/ft

Writes into --out_dir: the subset's index file, TensorBoard curves, checkpoints (exportable with `simclr
export`), and a record appended to finetune.json / finetune.md. A run stopped by SIGTERM or Ctrl+C resumes
with the same command and `--ckpt_path last` (simclr.finetuning.runs).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from torch.utils.data import Subset

from simclr.data.base import ImageDataModule
from simclr.data.subsets import LabelSubset, check_fraction, dataset_labels, split_description
from simclr.devices import resolve_device
from simclr.errors import UserError
from simclr.finetuning.finetuner import FineTuner, layers_up_to
from simclr.finetuning.report import init_name
from simclr.finetuning.runs import (
    DivergenceGuard,
    check_budget,
    check_same_run,
    check_seed,
    resume_path,
    run_epochs,
    train_loader,
    train_test_record,
)
from simclr.loading.finetuned import RunRecord, is_finetuned, read_finetuned
from simclr.loading.pretrained import load_datamodule, load_pretrained
from simclr.models.representations import projection_head, representation_names
from simclr.safety.lightning_internals import build_with_config
from simclr.safety.run_folder import writable_folder
from simclr.safety.safe_loading import read_checkpoint
from simclr.training.trainer import make_trainer

DEFAULT_FRACTION = 0.01  # 1% of the labels, SimCLR's smallest setting
# Area range of the fine-tuning crops. (1, 1) = flip only: on 28 px Fashion-MNIST, crops of (0.2, 1) / (0.5, 1) /
# (0.8, 1) cost 5.7 / 4.6 / 2.0 points of test top-1 at 10% labels and 300 steps (docs/finetune.md); pass
# e.g. --crop_scale "[0.08, 1]" for the paper's ImageNet crops.
CROP_SCALE = (1.0, 1.0)


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
        return LabelSubset.read(subset, description, len(train), data.num_classes)
    return LabelSubset.draw(dataset_labels(train), data.num_classes, label_fraction, seed, description)


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
    ckpt_path: str | None = None,
    every_n_train_steps: int = 100,
) -> Path:
    """Fine-tune the encoder of a pretraining checkpoint (and head layers up to --from) with a linear classifier
    on a class-balanced labelled subset; test top-1 on the test split is appended to finetune.json / .md.

    Args:
        ckpt: checkpoint written by `simclr fit` (by any method: SimCLR, MoCo, BYOL, ...).
        label_fraction: share of each class's training labels used, in (0, 1] (default 0.01, 1%; with --subset,
            the file's).
        init: simclr (the pretrained weights, whichever method trained them; the record names that method) or
            scratch (the same architecture, freshly initialised).
        from_layer: fine-tune from h, or keep the head up to head_1, head_2, ... or z (SimCLR v2: head_1).
        out_dir: where the subset file, logs, checkpoints and finetune.json go; default: <ckpt folder>/finetune.
        epochs: passes over the labelled subset (default 30 unless --max_steps is given).
        max_steps: optimizer steps; with --epochs, training stops at whichever comes first.
        lr: SGD (Nesterov momentum 0.9) learning rate, decayed to 0 by a cosine schedule.
        batch_size: labelled images per step (at most the subset's size).
        seed: seeds the subset, the classifier's initialisation, the data order and the augmentations (0..2**32-1).
        subset: a subset index file (subset_*.json of an earlier run) to reuse instead of drawing one.
        crop_scale: area range of the random resized crops (before the flip); [1, 1] = flip only.
        root: override the data root of the checkpoint's data module (data moved since pretraining).
        device: "cpu", "cuda" or "auto" (CUDA when available).
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
        ckpt_path: resume a stopped run: `last` (out_dir/checkpoints/last.ckpt) or the path of a checkpoint it
            wrote; pass the stopped run's other options unchanged (--epochs / --max_steps may grow).
        every_n_train_steps: steps between two writes of out_dir/checkpoints/last.ckpt, which a stopped run
            resumes from (it is also written when SIGTERM or Ctrl+C stops the run).
    """
    if label_fraction is not None:
        check_fraction(label_fraction)
    check_budget(epochs, max_steps, lr, batch_size, every_n_train_steps)
    check_seed(seed)
    check_crop_scale(crop_scale)
    dev = resolve_device(device)
    out = writable_folder(out_dir if out_dir else Path(ckpt).parent / "finetune", "--out_dir")
    checkpoint = read_checkpoint(ckpt, weights_only)
    if is_finetuned(checkpoint):
        raise UserError(
            f"checkpoint {ckpt} is a fine-tuned model, not a pretraining run; pass the .ckpt written by `simclr fit` "
            f"(or distil this one: simclr distill --ckpt {ckpt})"
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
    started_as = init_name(init, type(pretrained))
    run_name = f"{started_as}-from_{from_layer}-{labelled.label_fraction:g}-seed{seed}"
    options = {"init": init, "from": from_layer, "lr": lr, "batch_size": batch_size, "seed": seed,
               "crop_scale": list(crop_scale)}  # fmt: skip
    run = {"command": "finetune", "name": run_name, "options": options}
    resume = resume_path(ckpt_path, out / "checkpoints", run, weights_only)
    if resume is not None:
        check_same_run(read_finetuned(resume, weights_only), resume, run, asdict(labelled), config, "--ckpt")
    subset_path = labelled.save(out / f"subset_{labelled.label_fraction:g}_seed{labelled.seed}.json")
    L.seed_everything(seed, verbose=False)
    model = build_with_config(FineTuner, config)
    if init == "simclr":
        model.load_pretrained_parts(pretrained.encoder, list(pretrained.head.layers)[:layers] if layers else [])
    record_cb = RunRecord(checkpoint.get("datamodule_hyper_parameters") or {}, labelled, run)
    trainer = make_trainer(out, run_name, dev, run_epochs(epochs, max_steps), max_steps, every_n_train_steps,
                           [record_cb], DivergenceGuard(lr))  # fmt: skip
    train = train_loader(Subset(data.labelled_dataset("train"), labelled.indices), batch_size, seed)
    final = out / "checkpoints" / f"{run_name}.ckpt"
    top1, md, js = train_test_record(trainer, model, train, resume, final, weights_only, data, batch_size, started_as,
                                     from_layer, labelled)  # fmt: skip
    print(
        f"{started_as} from {from_layer}, {len(labelled.indices)} labelled images ({subset_path.name}): "
        f"test top-1 {100 * top1:.2f}%"
    )
    print(f"wrote {md}, {js} and {final}")
    return final
