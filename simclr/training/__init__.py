"""What a LightningModule needs around it: optimiser and schedule, checkpoint files, RNG streams, fit
checks, the non-finite loss guard, exact resume, and every use of Lightning internals (one module)."""

from simclr.training.lars import LARS

__all__ = ["LARS"]
