"""`simclr finetune`: fine-tune a pretrained encoder (and head layers) with a few labels, beside the frozen probe and
scratch, and say which wins.

    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --from h --out_dir runs/ft
    simclr finetune --ckpt runs/v2/checkpoints/last.ckpt --label_fraction 0.01 --from head_1 --out_dir runs/ft
    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --init scratch --out_dir runs/ft

From pretrained weights the recipe is LP-FT (`simclr.finetuning.recipe`): the classifier starts from the linear
probe on the frozen representation, the pretrained layers train at --encoder_lr_ratio times its learning rate,
BatchNorm trains as in pretraining (--bn frozen keeps its statistics). With --compare (the default from
pretrained weights) the same command also trains scratch on the same subset with the same step budget, so one
comparison holds three rows: the frozen probe, the fine-tuned network and scratch, and a verdict
(`simclr.finetuning.comparison`).

Writes into --out_dir: the subset's index file, TensorBoard curves, checkpoints (exportable with `simclr
export`), and the comparison appended to finetune.json / finetune.md. A run stopped by SIGTERM or Ctrl+C resumes
with the same command and `--ckpt_path last` (simclr.finetuning.runs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
from simclr.finetuning.recipe import SCRATCH, Recipe, choose_recipe, compare_or_default, start_probe
from simclr.finetuning.report import init_name, make_record
from simclr.finetuning.runs import (
    DivergenceGuard,
    check_budget,
    check_same_run,
    check_seed,
    record_comparison,
    resume_plan,
    run_budget,
    scored,
    train_and_test,
    train_loader,
)
from simclr.loading.finetuned import RunRecord, is_finetuned, load_finetuned, read_finetuned
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
    encoder_lr_ratio: float | None = None,
    classifier_init: Literal["probe", "random"] | None = None,
    bn: Literal["frozen", "train"] | None = None,
    compare: bool | None = None,
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
    on a class-balanced labelled subset, by default with LP-FT and beside the frozen probe and scratch; the rows'
    test top-1 and which wins are appended to finetune.json / .md.

    Args:
        ckpt: checkpoint written by `simclr fit` (by any method: SimCLR, MoCo, BYOL, ...).
        label_fraction: share of each class's training labels used, in (0, 1] (default 0.01, 1%; with --subset,
            the file's).
        init: simclr (the pretrained weights, whichever method trained them; the record names that method) or
            scratch (the same architecture, freshly initialised).
        from_layer: fine-tune from h, or keep the head up to head_1, head_2, ... or z (SimCLR v2: head_1).
        out_dir: where the subset file, logs, checkpoints and finetune.json go; default: <ckpt folder>/finetune.
        epochs: passes over the labelled subset; with neither this nor --max_steps, 30 epochs but at least 500
            steps.
        max_steps: optimizer steps; with --epochs, training stops at whichever comes first.
        lr: the classifier's SGD (Nesterov momentum 0.9) learning rate, decayed to 0 by a cosine schedule; from
            scratch every layer's (also for the scratch row of --compare).
        encoder_lr_ratio: the encoder's and head layers' learning rate as a multiple of --lr (default 0.1 from
            pretrained weights, 1 from scratch).
        classifier_init: probe (LP-FT: start from the linear probe on the frozen --from representation; the
            default from pretrained weights) or random (plain fine-tuning; the only choice from scratch).
        bn: train (BatchNorm normalises with batch statistics and updates its running ones; the default) or frozen
            (it keeps the pretrained running statistics and normalises with them; pretrained weights only, and
            only with a small encoder learning rate: see docs/finetune.md).
        compare: also train scratch on the same subset with the same budget, and report the frozen probe,
            fine-tuned and scratch rows with a verdict (default: true from pretrained weights; scratch takes
            false). False skips the scratch run (about half the time); the probe row stays when LP-FT fits it.
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

    Returns:
        the fine-tuned network's checkpoint (the scratch run's with --init scratch).
    """
    if label_fraction is not None:
        check_fraction(label_fraction)
    check_budget(epochs, max_steps, lr, batch_size, every_n_train_steps)
    check_seed(seed)
    check_crop_scale(crop_scale)
    recipe = choose_recipe(init, classifier_init, encoder_lr_ratio, bn)
    recipes = [recipe, SCRATCH] if compare_or_default(compare, init) else [recipe]
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
    network = {
        "encoder": hparams["encoder"],
        "head": hparams.get("head"),
        "num_classes": data.num_classes,
        "augment": augment_config(*normalisation_of(pretrained, ckpt), data.image_size, tuple(crop_scale)),
        "layers": layers,
        "channels_last": bool(hparams.get("channels_last", False)),
    }
    method = init_name("simclr", type(pretrained))
    runs = [planned_run(r, method, from_layer, labelled, network, lr, batch_size, seed, crop_scale) for r in recipes]
    start, resume, saved = resume_plan(ckpt_path, out / "checkpoints", [run.record for run in runs], weights_only)
    if resume is not None:
        check_same_run(saved, resume, runs[start].record, asdict(labelled), runs[start].config, "--ckpt")
    subset_path = labelled.save(out / f"subset_{labelled.label_fraction:g}_seed{labelled.seed}.json")
    train_set, test_set = Subset(data.labelled_dataset("train"), labelled.indices), data.labelled_dataset("test")
    shape = (from_layer, labelled.label_fraction, len(labelled.indices), seed)
    rows, probe_layer = [], None
    if recipe.classifier_init == "probe" or len(recipes) > 1:
        probe, probe_layer = start_probe(pretrained, from_layer, train_set, test_set, data.num_classes, dev)
        pretrained.cpu()  # its weights are copied from here; the device's memory is the runs'
        rows.append(make_record(method, *shape, "probe", 0, 0.0, len(test_set), probe.linear_top1))
        for run in runs:
            run.record["probe_top1"] = probe.linear_top1  # read by `simclr distill` for its teacher's rows
    steps_per_epoch = len(train_loader(train_set, batch_size, seed))
    budget = run_budget(epochs, max_steps, steps_per_epoch)
    for i, run in enumerate(runs):
        final = out / "checkpoints" / f"{run.record['name']}.ckpt"
        if i < start:  # finished before the run that --ckpt_path resumes
            top1 = scored(load_finetuned(final, dev, weights_only), data, batch_size, dev)
            steps = int(read_finetuned(final, weights_only)["global_step"])
            epochs_done = steps / steps_per_epoch
        else:
            L.seed_everything(seed, verbose=False)
            model = build_with_config(FineTuner, run.config)
            if run.recipe.pretrained:
                model.load_pretrained_parts(pretrained.encoder, list(pretrained.head.layers)[:layers] if layers else [])
            if run.recipe.classifier_init == "probe":
                model.init_classifier(probe_layer)
            record_cb = RunRecord(checkpoint.get("datamodule_hyper_parameters") or {}, labelled, run.record)
            trainer = make_trainer(out, run.record["name"], dev, budget.max_epochs, budget.max_steps,
                                   every_n_train_steps, [record_cb], DivergenceGuard(lr))  # fmt: skip
            train = train_loader(train_set, batch_size, seed)
            top1, steps, epochs_done = train_and_test(trainer, model, train, resume if i == start else None, final,
                                                      weights_only, data, batch_size)  # fmt: skip
        started = method if run.recipe.pretrained else "scratch"
        rows.append(make_record(started, *shape, run.recipe.name, steps, epochs_done, len(test_set), top1))
    md, js, table = record_comparison(
        out, data, rows, budget.describe(steps_per_epoch, min(batch_size, len(train_set)))
    )
    print(f"{len(labelled.indices)} labelled images ({subset_path.name}), test set of {len(test_set)} images\n")
    print(table)
    print(
        f"wrote {md}, {js} and {', '.join(str(out / 'checkpoints' / (run.record['name'] + '.ckpt')) for run in runs)}"
    )
    return out / "checkpoints" / f"{runs[0].record['name']}.ckpt"


@dataclass
class PlannedRun:
    """One training run of the command: its recipe, its FineTuner config and its run record (name, options)."""

    recipe: Recipe
    config: dict[str, Any]  # FineTuner init arguments
    record: dict[str, Any]  # {"command", "name", "options", ...}: what a resume must repeat, saved as "run"


def planned_run(
    recipe: Recipe,
    method: str,
    from_layer: str,
    labelled: LabelSubset,
    network: dict[str, Any],
    lr: float,
    batch_size: int,
    seed: int,
    crop_scale: tuple[float, float],
) -> PlannedRun:
    """The run of `recipe` on the labelled subset: named `<method or scratch>-from_<layer>-<fraction>-seed<N>`."""
    started = method if recipe.pretrained else "scratch"
    config = {**network, "optimizer": sgd_config(lr), "encoder_lr_ratio": recipe.encoder_lr_ratio, "bn": recipe.bn}
    options = {"init": "simclr" if recipe.pretrained else "scratch", "from": from_layer, "lr": lr,
               "batch_size": batch_size, "seed": seed, "crop_scale": list(crop_scale),
               "classifier_init": recipe.classifier_init, "encoder_lr_ratio": recipe.encoder_lr_ratio, "bn": recipe.bn}  # fmt: skip
    name = f"{started}-from_{from_layer}-{labelled.label_fraction:g}-seed{seed}"
    record = {"command": "finetune", "name": name, "options": options, "started_as": started, "recipe": recipe.name}
    return PlannedRun(recipe, config, record)
