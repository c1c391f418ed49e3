"""Keep the number of pairs seen constant when negatives are pruned: train 1 / (1 - fraction) longer.

A loss that prunes a fraction f of each anchor's negatives sees (1 - f) of the negative pairs per step;
scaling the number of steps by 1 / (1 - f) restores the total (positives are then seen more often, which
is the price of a constant pair budget). Kept apart from `simclr.losses.pruning` so the losses do not import
Lightning.
"""

import math

import lightning as L


def constant_pairs_factor(fraction: float) -> float:
    """How much longer to train so a run pruning `fraction` of negatives sees as many pairs: 1 / (1 - fraction)."""
    return 1.0 / (1.0 - fraction)


class ConstantPairsBudget(L.Callback):
    """Scales `trainer.max_steps` (if set) or `trainer.max_epochs` by 1 / (1 - fraction) of the model's
    `loss.pruning`, before the optimizer and LR schedule are sized. Epochs are rounded up; give
    `max_steps` for an exact budget. Add it under `trainer.callbacks` (see configs/loss/drop_hardest_constant_pairs.yaml)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        pruning = getattr(pl_module.loss, "pruning", None)
        if pruning is None:
            raise ValueError(
                "ConstantPairsBudget needs a loss with `pruning` set (e.g. NTXentLoss(pruning=NegativePruning(0.5))); remove the callback or set model.loss.init_args.pruning"
            )
        factor = constant_pairs_factor(pruning.fraction)
        if trainer.max_steps > 0:
            trainer.fit_loop.epoch_loop.max_steps = math.ceil(trainer.max_steps * factor)
        elif trainer.max_epochs is not None and trainer.max_epochs > 0:
            trainer.fit_loop.max_epochs = math.ceil(trainer.max_epochs * factor - 1e-9)
        else:
            raise ValueError(
                "ConstantPairsBudget needs trainer.max_steps or trainer.max_epochs to scale; set one of them"
            )
