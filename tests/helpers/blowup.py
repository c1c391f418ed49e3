"""A callback that multiplies the model's weights by `factor` after a given training step: weights that
diverge while the loss still looks finite (Lightning runs checkpoint callbacks after this one, so that
step's checkpoint sees the scaled weights)."""

import torch
from lightning.pytorch import Callback


class ScaleWeightsAfterStep(Callback):
    """Scales every floating-point parameter by `factor` at the end of training step `step`."""

    def __init__(self, step: int, factor: float = 1e29):
        self.step = step
        self.factor = factor

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.mul_(self.factor)
