"""The checkpoint readers the commands use, as library calls (`simclr.loading`)."""

from simclr.loading.finetuned import is_finetuned, load_finetuned
from simclr.loading.pretrained import load_datamodule, load_pretrained

__all__ = ["is_finetuned", "load_datamodule", "load_finetuned", "load_pretrained"]
