"""Self-supervised methods as LightningModules, one file each, built from the shared parts (`base.ViewMethod`)."""

from simclr.methods.base import ViewMethod
from simclr.methods.byol import BYOL
from simclr.methods.image_text import ImageText
from simclr.methods.moco import MoCo
from simclr.methods.simclr import SimCLR

__all__ = ["BYOL", "ImageText", "MoCo", "SimCLR", "ViewMethod"]
