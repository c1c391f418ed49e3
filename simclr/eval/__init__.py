"""Evaluation of a pretrained encoder on frozen features: the probe routine (`probe`: linear probe with its
whitening, kNN), diagnostics, invariance probes, TensorBoard figures and the probe report."""

from simclr.eval.knn import knn_top1
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_probe

__all__ = ["ProbeRecipe", "fit_linear_probe", "knn_top1"]
