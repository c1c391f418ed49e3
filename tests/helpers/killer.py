"""A callback that signals its own process after a given training step: SIGKILL is a crash with no chance
to clean up; SIGTERM is what schedulers and `timeout` send."""

import os
import signal

from lightning.pytorch import Callback


class KillAfterStep(Callback):
    """Sends `signal_name` to the process at the end of training step `step` (before that step's checkpoint
    is written, since Lightning runs checkpoint callbacks last)."""

    def __init__(self, step: int, signal_name: str = "SIGKILL"):
        self.step = step
        self.signal = getattr(signal, signal_name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signal)
