"""The Trainer `simclr finetune` and `simclr distill` run, for any LightningModule: safe to stop and resume.

    trainer = make_trainer("runs/mine", "run-a", device="auto", max_steps=1000)
    trainer.fit(model, loader, ckpt_path=None)  # later: ckpt_path="runs/mine/checkpoints/last.ckpt"

TensorBoard logs go to out_dir/run_name; `out_dir/checkpoints/last.ckpt` is written atomically every
`every_n_train_steps` steps and when SIGTERM or Ctrl+C stops the run (at the end of the current step);
a resume is exact (weights, optimiser, schedule, RNG states, position in a `ResumableDataLoader`); a loss or
weights that become NaN or inf stop the run with a one-line error and no checkpoint of the diverged weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import TensorBoardLogger

from simclr.devices import resolve_device
from simclr.errors import UserError
from simclr.safety.checkpoint_files import AtomicCheckpointIO
from simclr.safety.lightning_internals import SaveLastEveryNSteps
from simclr.safety.loss_guard import NonFiniteLossGuard
from simclr.safety.resume import ResumeCallback
from simclr.safety.sigint import StopOnSigint
from simclr.safety.sigterm import SaveOnSigterm


def make_trainer(
    out_dir: str | Path,
    run_name: str,
    device: str | torch.device = "auto",
    max_epochs: int | None = None,
    max_steps: int | None = None,
    every_n_train_steps: int = 100,
    callbacks: Sequence[Callback] = (),
    loss_guard: NonFiniteLossGuard | None = None,
) -> L.Trainer:
    """A one-device Trainer that logs to TensorBoard under out_dir/run_name and keeps out_dir/checkpoints/last.ckpt
    current (see the module docstring).

    Args:
        out_dir: the run's folder.
        run_name: TensorBoard run name (out_dir/run_name).
        device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when available), or a torch.device.
        max_epochs: passes over the training data (None: until max_steps).
        max_steps: optimiser steps (None: until max_epochs); with both, whichever comes first.
        every_n_train_steps: steps between two writes of last.ckpt.
        callbacks: further callbacks, after the safety ones.
        loss_guard: the divergence stop (default `NonFiniteLossGuard()`; a subclass may name the option that
            fixes it).
    """
    if max_epochs is None and max_steps is None:
        raise UserError("make_trainer needs max_epochs or max_steps; pass one (a run without a length never ends)")
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    out = Path(out_dir)
    return L.Trainer(
        accelerator="gpu" if dev.type == "cuda" else "cpu",
        devices=[dev.index or 0] if dev.type == "cuda" else 1,
        max_epochs=max_epochs if max_epochs is not None else -1,
        max_steps=max_steps if max_steps is not None else -1,
        logger=TensorBoardLogger(str(out), name=run_name),
        callbacks=[
            SaveLastEveryNSteps(
                dirpath=out / "checkpoints",
                save_top_k=0,
                save_last=True,
                every_n_train_steps=every_n_train_steps,
                enable_version_counter=False,  # a resumed run writes last.ckpt again, never last-v1.ckpt
            ),
            LearningRateMonitor(logging_interval="step"),
            ResumeCallback(),
            loss_guard if loss_guard is not None else NonFiniteLossGuard(),
            SaveOnSigterm(),
            StopOnSigint(),
            *callbacks,
        ],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
