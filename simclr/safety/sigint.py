"""Ctrl+C (SIGINT) stops `simclr finetune` / `simclr distill` as SIGTERM stops every run: at the end of the
current training step, with a resumable `last.ckpt`, and a non-zero exit status (130 = 128 + SIGINT).

Python turns SIGINT into `KeyboardInterrupt` wherever the program is, even halfway through an optimizer
step, and Lightning then exits with status 1 and saves nothing. `StopOnSigint` only notes the signal; the
step finishes, and it raises `SigintStop`, a `SIGTERMException`, so that
`simclr.safety.sigterm.SaveOnSigterm` writes `last.ckpt` as it does for SIGTERM. A second Ctrl+C
interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.exceptions import SIGTERMException

SIGINT_EXIT_STATUS = 128 + signal.SIGINT  # what a shell reports for a process ended by Ctrl+C


class SigintStop(SIGTERMException):
    """A run stopped by SIGINT at the end of a training step (exit status 130 if nothing catches it)."""

    def __init__(self) -> None:
        super().__init__(SIGINT_EXIT_STATUS)


class StopOnSigint(Callback):
    """While training, SIGINT raises `SigintStop` at the end of the current step instead of interrupting it."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None
        self._installed = False

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.received = False
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            self._previous = signal.signal(signal.SIGINT, self._note)
            self._installed = True

    def _note(self, signum: int, frame: Any) -> None:
        if self.received:  # a second Ctrl+C: the user does not want to wait for the step
            raise KeyboardInterrupt
        self.received = True

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any, **kwargs: Any) -> None:
        if self.received:
            raise SigintStop()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._restore()

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def sigint_message(stop: SigintStop) -> str:
    """The one-line report of a run stopped by SIGINT (as `simclr.safety.sigterm.sigterm_message`)."""
    path = getattr(stop, "checkpoint_path", None)
    if path is None:
        return "stopped by SIGINT before training finished; no checkpoint was written"
    return f"stopped by SIGINT before training finished; resume with --ckpt_path {path}"


@contextmanager
def exit_status_of_sigint() -> Iterator[None]:
    """Runs a command; a `SigintStop` ends the process with one line on stderr and exit status 130."""
    try:
        yield
    except SigintStop as stop:
        print(f"simclr: error: {sigint_message(stop)}", file=sys.stderr)
        sys.exit(SIGINT_EXIT_STATUS)
