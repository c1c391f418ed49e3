"""SIGTERM (what schedulers, `timeout` and `kill` send) ends a fit with a resumable checkpoint and a
non-zero exit status, so `simclr fit && simclr probe` never probes a half-trained model.

Lightning turns SIGTERM into `SIGTERMException` at the end of the current training step; it is a
`SystemExit` without a code (status 0) and Lightning saves nothing. `SaveOnSigterm` writes `last.ckpt` at
that point (the step is complete, so the run resumes exactly) and records the path on the exception; the
`simclr` entry point prints one line and exits with 143 (128 + SIGTERM).
"""

from __future__ import annotations

import signal
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM


class SaveOnSigterm(Callback):
    """On SIGTERM during fit: save `last.ckpt` in the checkpoint callback's folder (if checkpointing is on)."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        checkpoint = trainer.checkpoint_callback
        if not isinstance(exception, SIGTERMException) or not isinstance(checkpoint, ModelCheckpoint):
            return
        if checkpoint.dirpath is None or trainer.fast_dev_run:
            return
        path = Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
        trainer.save_checkpoint(path)
        exception.checkpoint_path = str(path)


def sigterm_message(exception: SIGTERMException) -> str:
    """The one-line report of a fit stopped by SIGTERM."""
    path = getattr(exception, "checkpoint_path", None)
    if path is None:
        return "stopped by SIGTERM before training finished; no checkpoint was written (checkpointing is off)"
    return f"stopped by SIGTERM before training finished; resume with --ckpt_path {path}"
