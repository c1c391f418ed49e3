"""Checkpoints in and out: `simclr.load(ckpt)` -> `Pretrained` (see `handle`) for any checkpoint of this toolkit,
the pretrained and fine-tuned loaders under it, and `export` (`simclr export`: the encoder as a torchvision
state_dict, TorchScript or ONNX)."""

from simclr.loading.checkpoints import is_finetuned, load_datamodule, load_finetuned, load_pretrained
from simclr.loading.handle import Pretrained, load

__all__ = ["Pretrained", "is_finetuned", "load", "load_datamodule", "load_finetuned", "load_pretrained"]
