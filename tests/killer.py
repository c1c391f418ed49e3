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


class RecordSteps(Callback):
    """Debug: appends (global_step, batch label checksum, augment step, loss) to a file each step."""

    def __init__(self, path: str):
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        with open(self.path, "a") as fh:
            fh.write(f"{trainer.global_step} {batch_idx} {batch[1].tolist()} {pl_module.augment_rng.step} {float(outputs['loss']):.6f}\n")
