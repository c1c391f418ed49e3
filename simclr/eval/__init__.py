"""Evaluation of a pretrained encoder on frozen features: linear probe (with its whitening), kNN,
diagnostics, invariance probes, the online probe monitor, and the probe report."""

from simclr.eval.knn import knn_top1
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_probe
from simclr.eval.online_probe import OnlineLinearProbe

__all__ = ["OnlineLinearProbe", "ProbeRecipe", "fit_linear_probe", "knn_top1"]
