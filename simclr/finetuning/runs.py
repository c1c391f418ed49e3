"""What `simclr finetune` and `simclr distill` share: option checks, the data loaders, the trainer, and stopping,
resuming and finishing a run.

A run keeps `last.ckpt` in its checkpoint folder (`out_dir/checkpoints`), written every
`every_n_train_steps` steps and when SIGTERM or SIGINT stops it (`simclr.safety.sigterm`,
`simclr.safety.sigint`); the command then exits 143 / 130 with one line saying how to resume.
`--ckpt_path last` resumes exactly: weights, optimizer, schedule and step, the RNG states and the position in
the shuffled data (`simclr.safety.resume`). When training ends, the final weights are written as
`<run name>.ckpt` and `last.ckpt` is removed, so a `last.ckpt` in the folder is always an unfinished run,
and no other run starts over it. A loss or weights that become NaN or inf stop the run with a one-line
error and no checkpoint of the diverged weights (`simclr.safety.loss_guard`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset

from simclr.data.base import ImageDataModule
from simclr.data.datasets import collate_batch
from simclr.data.resumable import EpochRandomSampler, ResumableDataLoader
from simclr.data.subsets import LabelSubset
from simclr.errors import UserError
from simclr.finetuning.report import append_record, make_record
from simclr.loading.finetuned import read_finetuned
from simclr.safety.lightning_internals import without_instantiator
from simclr.safety.loss_guard import NonFiniteLossGuard

DEFAULT_EPOCHS = 30  # SimCLR fine-tunes 60 epochs on 1% of ImageNet, 30 on 10%
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


def run_epochs(epochs: int | None, max_steps: int | None) -> int | None:
    """The epoch limit of a run: --epochs, else DEFAULT_EPOCHS unless --max_steps alone sets the length."""
    return epochs if epochs is not None else (None if max_steps else DEFAULT_EPOCHS)


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


def resume_path(ckpt_path: str | None, ckpt_dir: Path, run: dict[str, Any], weights_only: bool) -> Path | None:
    """The checkpoint to resume from (None: a new run), checked before any work.

    `--ckpt_path last` is `ckpt_dir/last.ckpt`. A new run refuses a folder whose last.ckpt is another run's
    unfinished one (it would overwrite it); the same run starts over.
    """
    last = ckpt_dir / LAST
    if ckpt_path is None:
        if last.is_file():
            try:
                other = read_finetuned(last, weights_only).get("run") or {}
            except UserError:  # not a run's checkpoint at all: still not this run's to overwrite
                other = {}
            if other.get("name") != run["name"]:
                raise UserError(
                    f"{last} holds the unfinished run {other.get('name', 'of another command')}; resume it with its "
                    f"own options and --ckpt_path last, or delete that file (or pass another --out_dir) to start "
                    f"{run['name']}"
                )
        return None
    if ckpt_path == "last" and not last.is_file():
        raise UserError(
            f"--ckpt_path last found no {LAST} in {ckpt_dir}; pass the --out_dir of the stopped run (or the path of "
            f"its last.ckpt), or drop --ckpt_path to start a new run"
        )
    return last if ckpt_path == "last" else Path(ckpt_path)


def fit_and_finish(
    trainer: L.Trainer,
    model: L.LightningModule,
    train: DataLoader,
    resume: Path | None,
    final: Path,
    weights_only: bool,
) -> float:
    """Fits `model` (from `resume` when given), writes the final weights to `final` and removes last.ckpt;
    returns the epochs trained over `train`."""
    trainer.fit(model, train, ckpt_path=resume, weights_only=weights_only)
    trainer.save_checkpoint(final, weights_only=False)  # the whole state: a later run may resume or export it
    (final.parent / LAST).unlink(missing_ok=True)  # the run is over: nothing left to resume
    return trainer.global_step / max(1, len(train))


def test_top1(trainer: L.Trainer, model: L.LightningModule, test: DataLoader) -> float:
    """Test top-1 of `model` on `test`, in [0, 1]."""
    return float(trainer.test(model, test, verbose=False)[0]["test/top1"])


def train_test_record(
    trainer: L.Trainer,
    model: L.LightningModule,
    train: DataLoader,
    resume: Path | None,
    final: Path,
    weights_only: bool,
    data: ImageDataModule,
    batch_size: int,
    started_as: str,
    from_layer: str,
    labelled: LabelSubset,
) -> tuple[float, Path, Path]:
    """Fits (`fit_and_finish`), scores test top-1 and appends the run's record to out/finetune.md and .json;
    returns (top1, md path, json path)."""
    trained_epochs = fit_and_finish(trainer, model, train, resume, final, weights_only)
    top1 = test_top1(trainer, model, test_loader(data, batch_size))
    record = make_record(started_as, from_layer, labelled.label_fraction, len(labelled.indices), top1, trained_epochs)
    md, js = append_record(
        final.parent.parent, record, header=f"# Fine-tuning\n\nTest set: {data.test_set_description()}."
    )
    return top1, md, js
