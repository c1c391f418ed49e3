"""What `simclr finetune` and `simclr distill` share: option checks, the data loaders, the trainer, and stopping,
resuming and finishing a run.

A run keeps `last.ckpt` in its checkpoint folder (`out_dir/checkpoints`), written every
`every_n_train_steps` steps and when SIGTERM or SIGINT stops it (`simclr.safety.sigterm`,
`simclr.safety.sigint`); the command then exits 143 / 130 with one line saying how to resume.
`--ckpt_path last` resumes exactly: weights, optimizer, schedule and step, the RNG states and the position in
the shuffled data (`simclr.safety.resume`). When training ends, the final weights are written as
`<run name>.ckpt` and `last.ckpt` is removed, so a `last.ckpt` in the folder is always an unfinished run,
and no other run starts over it. A command that trains several runs in turn (`simclr finetune --compare`:
fine-tuned, then scratch) resumes the one its last.ckpt belongs to and keeps the finished ones before it
(`resume_plan`). A loss or weights that become NaN or inf stop the run with a one-line error and no
checkpoint of the diverged weights (`simclr.safety.loss_guard`).

The budget is counted in optimiser steps (`run_budget`): unless --epochs or --max_steps sets it, a run takes
DEFAULT_EPOCHS passes over its training images but at least MIN_STEPS steps, so a small labelled subset is
not fine-tuned for a few dozen steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from simclr.data.base import ImageDataModule
from simclr.data.datasets import collate_batch
from simclr.data.resumable import EpochRandomSampler, ResumableDataLoader
from simclr.errors import UserError
from simclr.finetuning.report import append_comparison, format_comparison
from simclr.loading.finetuned import read_finetuned
from simclr.safety.lightning_internals import without_instantiator
from simclr.safety.loss_guard import NonFiniteLossGuard

DEFAULT_EPOCHS = 30  # SimCLR fine-tunes 60 epochs on 1% of ImageNet, 30 on 10%
MIN_STEPS = 500  # the default budget's floor: 30 epochs of 400 images in batches of 256 would be 60 steps
MAX_SEED = 2**32 - 1  # numpy, seeded by Lightning's seed_everything, accepts 0..2**32 - 1
LAST = "last.ckpt"


def check_budget(epochs: int | None, max_steps: int | None, lr: float, batch_size: int, every_n: int = 1) -> None:
    """One-line UserErrors for a training budget or optimiser option no run can use."""
    for name, value in (("epochs", epochs), ("max_steps", max_steps), ("batch_size", batch_size),
                        ("every_n_train_steps", every_n)):  # fmt: skip
        if value is not None and value < 1:
            raise UserError(f"--{name} is {value}; pass a positive number")
    if not lr > 0:
        raise UserError(f"--lr is {lr}; pass a positive learning rate, e.g. --lr 0.05")


def check_seed(seed: int) -> None:
    """A one-line UserError for a seed numpy (seeded with it) would refuse."""
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed is {seed}; pass a whole number from 0 to {MAX_SEED}")


def train_loader(dataset: Dataset, batch_size: int, seed: int) -> DataLoader:
    """Shuffled uint8 batches in an order fixed by `seed` and the epoch, resumable mid-epoch; a last batch of one
    image (BatchNorm cannot train on it) is dropped."""
    batch_size = min(batch_size, len(dataset))
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochRandomSampler(dataset, seed),
        drop_last=len(dataset) % batch_size == 1,
        collate_fn=collate_batch,
    )


def test_loader(data: ImageDataModule, batch_size: int) -> DataLoader:
    """The test split's uint8 batches, in order."""
    return DataLoader(data.labelled_dataset("test"), batch_size=batch_size, shuffle=False, collate_fn=collate_batch)


class DivergenceGuard(NonFiniteLossGuard):
    """`NonFiniteLossGuard` whose advice names the option of these commands that fixes it: --lr."""

    def __init__(self, lr: float):
        super().__init__()
        self.lr = lr

    def advice(self, trainer: L.Trainer) -> str:
        return (
            f"likely cause: the learning rate is too high; pass a lower one than --lr {self.lr:g}, e.g. "
            f"--lr {self.lr / 10:g} (no checkpoint of the diverged weights was written)"
        )


@dataclass(frozen=True)
class Budget:
    """A run's length as the Trainer takes it, and in words for the report."""

    max_epochs: int | None  # passes over the training images (None: until max_steps)
    max_steps: int | None  # optimiser steps (None: until max_epochs)
    steps: int  # the steps the run takes: the smaller limit
    rule: str  # why, e.g. "the floor of 500 steps (30 epochs would be 60)"

    def describe(self, steps_per_epoch: int, batch_size: int) -> str:
        """e.g. "500 steps of 256 images (250 epochs): the floor of 500 steps (30 epochs would be 60)"."""
        return f"{self.steps} steps of {batch_size} images ({self.steps / steps_per_epoch:.4g} epochs): {self.rule}"


def run_budget(epochs: int | None, max_steps: int | None, steps_per_epoch: int) -> Budget:
    """The budget of a run whose training data is `steps_per_epoch` batches long.

    --epochs and --max_steps are taken as given (with both, whichever ends first); with neither, the run takes
    DEFAULT_EPOCHS epochs but at least MIN_STEPS steps.
    """
    if epochs is None and max_steps is None:
        steps = max(MIN_STEPS, DEFAULT_EPOCHS * steps_per_epoch)
        rule = (
            f"{DEFAULT_EPOCHS} epochs, the default"
            if steps > MIN_STEPS
            else f"the floor of {MIN_STEPS} steps ({DEFAULT_EPOCHS} epochs would be {DEFAULT_EPOCHS * steps_per_epoch})"
        )
        return Budget(None, steps, steps, rule)
    if epochs is None:
        return Budget(None, max_steps, max_steps, f"--max_steps {max_steps}")
    if max_steps is None:
        return Budget(epochs, None, epochs * steps_per_epoch, f"--epochs {epochs}")
    steps = min(max_steps, epochs * steps_per_epoch)
    return Budget(epochs, max_steps, steps, f"--epochs {epochs} or --max_steps {max_steps}, whichever ends first")


def check_same_run(
    checkpoint: dict[str, Any], path: Path, run: dict[str, Any], subset: dict, config: dict, model_option: str
) -> None:
    """A one-line UserError unless `checkpoint` is a checkpoint of the run this command describes.

    Args:
        checkpoint: the checkpoint dict of --ckpt_path.
        path: its path, for the message.
        run: this command's run record: {"command", "name", "options": {option: value}}.
        subset: this run's labelled subset (as a dict); config: its model config (init arguments).
        model_option: the option that chose the model (--ckpt), for the message.
    """
    saved = checkpoint.get("run")
    if not isinstance(saved, dict) or saved.get("command") != run["command"]:
        raise UserError(
            f"--ckpt_path {path} is not a checkpoint of a stopped `simclr {run['command']}` run; pass the last.ckpt "
            f"of one (in its --out_dir/checkpoints), or drop --ckpt_path to start a new run"
        )
    for option, value in run["options"].items():
        before = (saved.get("options") or {}).get(option)
        if before != value:
            raise UserError(
                f"--ckpt_path {path} is the run with --{option} {before}, but this command passes --{option} {value}; "
                f"a resume repeats the stopped run's options: pass the same ones, or drop --ckpt_path to start a new run"
            )
    if checkpoint.get("label_subset") != subset:
        raise UserError(
            f"--ckpt_path {path} trained on another labelled subset than this command's; pass the stopped run's "
            f"--label_fraction / --subset and --seed, or drop --ckpt_path to start a new run"
        )
    if without_instantiator(checkpoint.get("hyper_parameters") or {}) != config:
        raise UserError(
            f"--ckpt_path {path} holds another model than the one this command's {model_option} builds; pass the "
            f"{model_option} of the stopped run, or drop --ckpt_path to start a new run"
        )


def resume_plan(
    ckpt_path: str | None, ckpt_dir: Path, runs: list[dict[str, Any]], weights_only: bool
) -> tuple[int, Path | None, dict[str, Any] | None]:
    """Where a command that trains `runs` in turn starts, checked before any work.

    `--ckpt_path last` is `ckpt_dir/last.ckpt`. Without --ckpt_path every run trains anew, and a folder whose
    last.ckpt is another command's unfinished run is refused (it would be overwritten). With it, the run that
    checkpoint belongs to resumes; the runs before it finished earlier and keep their `<name>.ckpt`.

    Args:
        ckpt_path: --ckpt_path: None, "last" or a checkpoint's path.
        ckpt_dir: the command's checkpoint folder (out_dir/checkpoints).
        runs: the run records ({"command", "name", "options"}) in training order.
        weights_only: how the checkpoint is read.

    Returns:
        (position in `runs` of the first run to train, the checkpoint it resumes from or None, that checkpoint's
        dict for `check_same_run` or None).
    """
    last = ckpt_dir / LAST
    names = [run["name"] for run in runs]
    if ckpt_path is None:
        if last.is_file():
            try:
                other = read_finetuned(last, weights_only).get("run") or {}
            except UserError:  # not a run's checkpoint at all: still not this run's to overwrite
                other = {}
            if other.get("name") not in names:
                raise UserError(
                    f"{last} holds the unfinished run {other.get('name', 'of another command')}; resume it with its "
                    f"own options and --ckpt_path last, or delete that file (or pass another --out_dir) to start "
                    f"{names[0]}"
                )
        return 0, None, None
    if ckpt_path == "last" and not last.is_file():
        raise UserError(
            f"--ckpt_path last found no {LAST} in {ckpt_dir}; pass the --out_dir of the stopped run (or the path of "
            f"its last.ckpt), or drop --ckpt_path to start a new run"
        )
    path = last if ckpt_path == "last" else Path(ckpt_path)
    checkpoint = read_finetuned(path, weights_only)
    name = (checkpoint.get("run") or {}).get("name")
    start = names.index(name) if name in names else 0  # another run: check_same_run names what differs
    for done in names[:start]:
        if not (ckpt_dir / f"{done}.ckpt").is_file():
            raise UserError(
                f"--ckpt_path {path} resumes {name}, but {done}.ckpt, which this command trains before it, is not in "
                f"{ckpt_dir}; drop --ckpt_path to train both anew"
            )
    return start, path, checkpoint


def fit_and_finish(
    trainer: L.Trainer,
    model: L.LightningModule,
    train: DataLoader,
    resume: Path | None,
    final: Path,
    weights_only: bool,
) -> tuple[int, float]:
    """Fits `model` (from `resume` when given), writes the final weights to `final` and removes last.ckpt;
    returns (optimiser steps, epochs over `train`)."""
    trainer.fit(model, train, ckpt_path=resume, weights_only=weights_only)
    trainer.save_checkpoint(final, weights_only=False)  # the whole state: a later run may resume or export it
    (final.parent / LAST).unlink(missing_ok=True)  # the run is over: nothing left to resume
    return trainer.global_step, trainer.global_step / max(1, len(train))


def test_top1(trainer: L.Trainer, model: L.LightningModule, test: DataLoader) -> float:
    """Test top-1 of `model` on `test`, in [0, 1]."""
    return float(trainer.test(model, test, verbose=False)[0]["test/top1"])


def scored(model: L.LightningModule, data: ImageDataModule, batch_size: int, device: torch.device) -> float:
    """Test top-1 of a trained `model` (a finished run's, a teacher) on the test split, with a Trainer of its own
    that logs and saves nothing."""
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=[device.index or 0] if device.type == "cuda" else 1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return test_top1(trainer, model, test_loader(data, batch_size))


def train_and_test(
    trainer: L.Trainer,
    model: L.LightningModule,
    train: DataLoader,
    resume: Path | None,
    final: Path,
    weights_only: bool,
    data: ImageDataModule,
    batch_size: int,
) -> tuple[float, int, float]:
    """Fits (`fit_and_finish`) and scores test top-1; returns (top1, steps, epochs over `train`)."""
    steps, epochs = fit_and_finish(trainer, model, train, resume, final, weights_only)
    return test_top1(trainer, model, test_loader(data, batch_size)), steps, epochs


def record_comparison(out: Path, data: ImageDataModule, rows: list[dict], budget: str) -> tuple[Path, Path, str]:
    """Appends `rows` (`simclr.finetuning.report.make_record`) to out/finetune.json and .md as one comparison;
    returns (md path, json path, the comparison as markdown, for the terminal)."""
    header = (
        f"# Fine-tuning\n\nTest set: {data.test_set_description()}.\n\nBudget of a trained row, unless --epochs "
        f"or --max_steps sets it: {DEFAULT_EPOCHS} epochs over its training images, at least {MIN_STEPS} steps."
    )
    md, js, numbered = append_comparison(out, rows, header)
    return md, js, format_comparison(numbered) + f"\nBudget: {budget}\n"
