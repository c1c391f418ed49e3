"""Self-supervised methods as LightningModules, one file each, built from the shared parts."""

from simclr.methods.simclr import SimCLR

__all__ = ["SimCLR"]
