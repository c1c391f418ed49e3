"""How a linear probe's features are prepared (`simclr.eval.linear_probe`): z-scored with the train split's
statistics, then PCA-whitened (`simclr.eval.whitening`), an affine map x -> ((x - mean) / std - centre) @ P.

Being affine, the map folds into the probe's linear layer: `FeaturePreparation.fold` gives the one layer on
raw features that computes the probe's logits, e.g. to start a fine-tuned network's classifier from the probe.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from simclr.eval.whitening import whitening, whitening_shift


def standardisation(x: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Per-dimension mean (D,) and std (D,) of features x (N, D). A dimension whose std is below `eps` is constant
    on x (e.g. a ReLU unit no image turns on) and keeps std 1: the probe learns nothing from it either way, and
    dividing by eps would multiply whatever that unit does on other images, or after fine-tuning, by 1/eps."""
    std = x.std(0)
    return x.mean(0), torch.where(std < eps, torch.ones_like(std), std)


@dataclass
class FeaturePreparation:
    """The affine map a probe's features go through, fitted on the train split (`feature_preparation`):
    x -> ((x - mean) / std - centre) @ projection, each step only where the recipe asks for it.

    Attributes:
        mean, std: (D,) z-scoring statistics, or None without standardisation.
        centre: (D,) mean of the z-scored train features, or None without whitening.
        projection: (D, D) whitening P, or None without whitening.
        penalty: (D,) L2 weights of the whitened problem for `LinearProbe`, or None.
    """

    mean: Tensor | None = None
    std: Tensor | None = None
    centre: Tensor | None = None
    projection: Tensor | None = None
    penalty: Tensor | None = None

    def __call__(self, x: Tensor) -> Tensor:
        """Raw features (N, D) -> the probe's input (N, D), float32."""
        x = x.float()
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if self.projection is not None:
            x = (x - self.centre) @ self.projection
        return x

    def fold(self, linear: nn.Linear) -> nn.Linear:
        """The layer on raw features that computes `linear(self(x))`: W = W' A^T, b = b' - W (mean + std * centre)
        with A = diag(1 / std) P (computed in float64, returned in float32)."""
        weight, bias = linear.weight.detach().double(), linear.bias.detach().double()  # (K, D'), (K,)
        dim = weight.shape[1]
        a = torch.eye(dim, dtype=torch.float64, device=weight.device)  # (D, D): raw -> prepared, linear part
        shift = torch.zeros(dim, dtype=torch.float64, device=weight.device)  # subtracted before `a`
        if self.projection is not None:
            a = self.projection.double()
            shift = self.centre.double()
        if self.mean is not None:
            std = self.std.double()
            shift = self.mean.double() + std * shift
            a = a / std[:, None]
        folded = nn.utils.skip_init(nn.Linear, dim, weight.shape[0], device=linear.weight.device)  # no RNG draw
        raw_weight = weight @ a.T  # (K, D)
        with torch.no_grad():
            folded.weight.copy_(raw_weight.float())
            folded.bias.copy_((bias - raw_weight @ shift).float())
        return folded.eval()


def feature_preparation(train_x: Tensor, standardise: bool, whiten: bool, weight_decay: float) -> FeaturePreparation:
    """The preparation fitted on train features (N, D): z-scoring if `standardise`, then PCA whitening if `whiten`
    (its eigenvalue shift set by the probe's `weight_decay`, `whitening_shift`)."""
    train_x = train_x.float()
    prep = FeaturePreparation()
    if standardise:  # once here, not in every L-BFGS evaluation
        prep.mean, prep.std = standardisation(train_x)
        train_x = (train_x - prep.mean) / prep.std
    if whiten:  # x -> x @ P; the L2 term follows (exact)
        prep.centre = train_x.mean(0)  # (D,), ~0 after standardisation; the bias absorbs it (unpenalised)
        train_x = train_x - prep.centre
        prep.projection, prep.penalty = whitening(train_x, whitening_shift(weight_decay, train_x))
    return prep
