"""What a LightningModule needs around it while it trains: the optimiser and schedule (LARS, parameter groups,
warmup-cosine), the pair budget, the training-time callbacks (online linear probe, augmented-view grid), the
Trainer of finetune and distill (`make_trainer`), safe to stop and resume."""

from simclr.training.lars import LARS
from simclr.training.online_probe import OnlineLinearProbe

__all__ = ["LARS", "OnlineLinearProbe"]
