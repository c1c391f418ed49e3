"""A callback that SIGKILLs its own process after a given training step: a crash with no chance to clean up."""

import os
import signal

from lightning.pytorch import Callback


class KillAfterStep(Callback):
    """SIGKILLs the process at the end of training step `step` (before that step's checkpoint is written,
    since Lightning runs checkpoint callbacks last)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
