"""Fine-tuning with few labels and self-distillation (SimCLR v2): `finetune` and `distill` (`simclr finetune`,
`simclr distill`), their LightningModules (`FineTuner`, `Distiller`), the recipes (`recipe`: LP-FT, scratch),
the distillation loss, the shared run handling (budget, loaders, resume checks) and the comparison report
(`report`, `comparison`: frozen probe, fine-tuned and scratch side by side, and which wins)."""

from simclr.finetuning.distiller import Distiller
from simclr.finetuning.finetuner import FineTuner

__all__ = ["Distiller", "FineTuner"]
