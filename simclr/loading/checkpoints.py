"""The checkpoint readers the commands use, re-exported as library calls (`simclr.loading`)."""

from simclr.cli.finetuned import is_finetuned, load_finetuned
from simclr.cli.pretrained import load_datamodule, load_pretrained

__all__ = ["is_finetuned", "load_datamodule", "load_finetuned", "load_pretrained"]
