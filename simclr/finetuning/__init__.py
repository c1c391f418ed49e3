"""Fine-tuning with few labels and self-distillation (SimCLR v2): `finetune` and `distill` (`simclr finetune`,
`simclr distill`), their LightningModules (`FineTuner`, `Distiller`), the distillation loss, the shared run
handling (loaders, resume checks) and the results table."""

from simclr.finetuning.distiller import Distiller
from simclr.finetuning.finetuner import FineTuner

__all__ = ["Distiller", "FineTuner"]
