"""Evaluation of a pretrained encoder on frozen features: the probe routine (`probe`: linear probe with its
whitening, kNN), the streamed SGD probe, diagnostics, invariance probes, TensorBoard figures, the probe report,
and `probe_checkpoint` (`simclr probe`)."""

from simclr.eval.knn import knn_top1
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_probe

__all__ = ["ProbeRecipe", "fit_linear_probe", "knn_top1"]
