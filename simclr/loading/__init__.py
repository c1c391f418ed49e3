"""Loading any checkpoint of this toolkit from Python: `simclr.load(ckpt)` -> `Pretrained` (see `handle`)."""

from simclr.loading.checkpoints import is_finetuned, load_datamodule, load_finetuned, load_pretrained
from simclr.loading.handle import Pretrained, load

__all__ = ["Pretrained", "is_finetuned", "load", "load_datamodule", "load_finetuned", "load_pretrained"]
