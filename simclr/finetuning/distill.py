"""`simclr distill`: SimCLR v2 self-distillation of a fine-tuned teacher into a student, on all training images.

    simclr distill --ckpt runs/ft/checkpoints/simclr-from_head_1-0.01-seed0.ckpt --out_dir runs/ft
    simclr distill --ckpt T.ckpt --student_config configs/student.yaml --temperature 1.0 --alpha 0.5

The student is the teacher's architecture with fresh weights, or the encoder of --student_config (a YAML with
its `class_path` and `init_args`, or a `simclr fit` config whose `model.encoder` is used); it trains every layer
at --lr with BatchNorm in train mode. finetune.json / finetune.md get one comparison: the teacher's frozen
probe (when its `simclr finetune` run fitted one), the fine-tuned teacher (scored again on the test set) and
the student (init "distill"), with a verdict. A run stopped by SIGTERM or Ctrl+C resumes with the same command
and `--ckpt_path last` (simclr.finetuning.runs).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from torch.utils.data import Subset

from simclr.data.base import ImageDataModule
from simclr.data.subsets import LabelsOnlyIn, LabelSubset
from simclr.devices import resolve_device
from simclr.errors import UserError, short_reason, user_message
from simclr.finetuning.distill_loss import check_distill_options
from simclr.finetuning.distiller import Distiller
from simclr.finetuning.finetuner import FineTuner
from simclr.finetuning.report import make_record
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
from simclr.loading.finetuned import RunRecord, finetuned_datamodule, read_finetuned
from simclr.safety.lightning_internals import build_with_config, without_instantiator
from simclr.safety.run_folder import writable_folder
from simclr.training.trainer import make_trainer

FINETUNER = f"{FineTuner.__module__}.{FineTuner.__qualname__}"


def finetuner_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The FineTuner config (init arguments) saved in a `simclr finetune` checkpoint, or a distilled student's."""
    hparams = without_instantiator(checkpoint["hyper_parameters"])
    return hparams["student"]["init_args"] if "student" in hparams else hparams


def student_encoder(path: str) -> dict[str, Any]:
    """The encoder config in a YAML file: {class_path, init_args}, or a fit config's model.encoder."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"--student_config {path} is not readable YAML ({e}); pass an encoder config file") from e
    if isinstance(config, dict) and isinstance(config.get("model"), dict):
        config = config["model"].get("encoder")
    if not isinstance(config, dict) or "class_path" not in config:
        raise UserError(
            f"--student_config {path} names no encoder; write its class_path and init_args (e.g. class_path: "
            f"simclr.models.ResNetEncoder) or pass a simclr fit config with model.encoder"
        )
    return config


def build_distiller(config: dict[str, Any], student_config: str | None) -> Distiller:
    """The Distiller of `config`; a student encoder --student_config cannot build is a one-line UserError naming it."""
    try:
        return build_with_config(Distiller, config)
    except Exception as e:
        if not student_config:
            raise
        reason = user_message(e, "distill") or short_reason(e)
        raise UserError(f"--student_config {student_config} does not build a student: {reason}") from e


def distill(
    ckpt: str,
    student_config: str | None = None,
    temperature: float = 1.0,
    alpha: float = 0.0,
    out_dir: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    lr: float = 0.05,
    batch_size: int = 256,
    seed: int = 0,
    root: str | None = None,
    device: str = "auto",
    weights_only: bool = True,
    ckpt_path: str | None = None,
    every_n_train_steps: int = 100,
) -> Path:
    """Train a student on the temperature-softened predictions of a fine-tuned teacher over every training image
    (SimCLR v2 self-distillation), optionally plus the labelled loss on the teacher's labelled subset.

    Args:
        ckpt: the teacher: a checkpoint written by `simclr finetune`.
        student_config: YAML of the student's encoder (same or smaller, with a `feature_dim`); default: the
            teacher's architecture.
        temperature: tau of the softened predictions (SimCLR v2: 1.0).
        alpha: weight of the cross-entropy on the teacher's labelled subset; 0 uses the teacher's predictions only.
        out_dir: where logs, checkpoints and finetune.json go; default: the teacher's folder's parent.
        epochs: passes over all training images; with neither this nor --max_steps, 30 epochs but at least 500
            steps.
        max_steps: optimizer steps; with --epochs, training stops at whichever comes first.
        lr: SGD (Nesterov momentum 0.9) learning rate, decayed to 0 by a cosine schedule.
        batch_size: images per step.
        seed: seeds the student's initialisation, the data order and the augmentations (0..2**32-1).
        root: override the data root recorded in the teacher's checkpoint.
        device: "cpu", "cuda" or "auto" (CUDA when available).
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
        ckpt_path: resume a stopped run: `last` (out_dir/checkpoints/last.ckpt) or the path of a checkpoint it
            wrote; pass the stopped run's other options unchanged (--epochs / --max_steps may grow).
        every_n_train_steps: steps between two writes of out_dir/checkpoints/last.ckpt, which a stopped run
            resumes from (it is also written when SIGTERM or Ctrl+C stops the run).
    """
    check_distill_options(temperature, alpha)
    check_budget(epochs, max_steps, lr, batch_size, every_n_train_steps)
    check_seed(seed)
    dev = resolve_device(device)
    out = writable_folder(out_dir if out_dir else Path(ckpt).parent.parent, "--out_dir")
    checkpoint = read_finetuned(ckpt, weights_only)
    data = finetuned_datamodule(checkpoint, ckpt, root)
    train_set = data.labelled_dataset("train")
    fix = "pass an intact checkpoint written by `simclr finetune` as --ckpt"
    labelled = LabelSubset.from_dict(checkpoint["label_subset"], f"checkpoint {ckpt}", data.num_classes, fix)
    if labelled.train_images != len(train_set):
        raise UserError(
            f"the data at {data.root} has {len(train_set)} training images, but the teacher's subset indexes {labelled.train_images}; pass --root with the teacher's data"
        )
    teacher_config = finetuner_config(checkpoint)
    student = {
        **teacher_config,
        "optimizer": {
            **teacher_config["optimizer"],
            "init_args": {**teacher_config["optimizer"]["init_args"], "lr": lr},
        },
        "encoder_lr_ratio": 1.0,  # fresh weights: nothing pretrained to keep
        "bn": "train",
    }
    if student_config:
        student["encoder"] = student_encoder(student_config)
    config = {
        "student": {"class_path": FINETUNER, "init_args": student},
        "teacher": {"class_path": FINETUNER, "init_args": teacher_config},
        "temperature": temperature,
        "alpha": alpha,
    }
    L.seed_everything(seed, verbose=False)
    model = build_distiller(config, student_config)
    run_name = f"distill-from_{model.student.from_layer}-{labelled.label_fraction:g}-seed{seed}"
    options = {"temperature": temperature, "alpha": alpha, "lr": lr, "batch_size": batch_size, "seed": seed}
    run = {"command": "distill", "name": run_name, "options": options}
    _, resume, saved = resume_plan(ckpt_path, out / "checkpoints", [run], weights_only)
    if resume is not None:
        check_same_run(saved, resume, run, asdict(labelled), config, "--ckpt (and --student_config)")
    teacher_state = {
        k.removeprefix("student."): v for k, v in checkpoint["state_dict"].items() if not k.startswith("teacher.")
    }
    model.teacher.load_state_dict(teacher_state)
    record_cb = RunRecord(checkpoint["datamodule_hyper_parameters"], labelled, run)
    train = train_loader(LabelsOnlyIn(train_set, labelled.indices), batch_size, seed)
    budget = run_budget(epochs, max_steps, len(train))
    trainer = make_trainer(out, run_name, dev, budget.max_epochs, budget.max_steps, every_n_train_steps,
                           [record_cb], DivergenceGuard(lr))  # fmt: skip
    final = out / "checkpoints" / f"{run_name}.ckpt"
    top1, steps, epochs_done = train_and_test(trainer, model, train, resume, final, weights_only, data, batch_size)
    rows = teacher_rows(checkpoint, labelled, model.teacher, data, batch_size, dev)
    shape = (model.student.from_layer, labelled.label_fraction, len(labelled.indices), seed)
    rows.append(make_record("distill", *shape, "distill", steps, epochs_done, len(data.labelled_dataset("test")), top1))
    md, js, table = record_comparison(out, data, rows, budget.describe(len(train), min(batch_size, len(train_set))))
    print(f"teacher {ckpt}, student trained on {len(train_set)} images\n")
    print(table)
    print(f"wrote {md}, {js} and {final}")
    return final


def teacher_rows(
    checkpoint: dict[str, Any],
    labelled: LabelSubset,
    teacher: FineTuner,
    data: ImageDataModule,
    batch_size: int,
    device: torch.device,
) -> list[dict]:
    """The teacher's rows of a distillation comparison: its frozen probe (recorded by the `simclr finetune` run that
    fitted one) and the fine-tuned teacher itself, scored again on the test split.

    Args:
        checkpoint: the teacher's checkpoint dict (its "run" record names its recipe, options and probe top-1).
        labelled: the teacher's labelled subset.
        teacher: the teacher network, its weights loaded.
        data: the data module; batch_size: test images per batch; device: where the test runs.
    """
    run = checkpoint.get("run") or {}
    options = run.get("options") or {}
    distilled = run.get("command") == "distill"
    started = run.get("started_as") or ("distill" if distilled else "pretrained")
    recipe = run.get("recipe") or ("distill" if distilled else "ft")
    seen = Subset(data.labelled_dataset("train"), labelled.indices) if run.get("command") == "finetune" else None
    seen = seen if seen is not None else data.labelled_dataset("train")  # a distilled teacher saw every image
    steps = int(checkpoint.get("global_step", 0))
    per_epoch = len(train_loader(seen, int(options.get("batch_size", batch_size)), 0))
    test_images = len(data.labelled_dataset("test"))
    shape = (teacher.from_layer, labelled.label_fraction, len(labelled.indices), labelled.seed)
    rows = []
    if isinstance(run.get("probe_top1"), float):
        rows.append(make_record(started, *shape, "probe", 0, 0.0, test_images, run["probe_top1"]))
    top1 = scored(teacher, data, batch_size, device)
    rows.append(make_record(started, *shape, recipe, steps, steps / per_epoch, test_images, top1))
    return rows
