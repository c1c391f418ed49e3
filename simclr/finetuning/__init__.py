"""Fine-tuning with few labels and self-distillation (SimCLR v2): the LightningModules (`FineTuner`,
`Distiller`), the distillation loss, the shared run handling (trainer, loaders, resume) and the results table."""

from simclr.finetuning.distiller import Distiller
from simclr.finetuning.finetuner import FineTuner

__all__ = ["Distiller", "FineTuner"]
