"""Linear probe on frozen features (SimCLR section 4: "a linear classifier is trained on top of the
frozen base network, and test accuracy is used as a proxy for representation quality").

The probe sees features only (h, a head layer, z or pixels), never the encoder, so it cannot change it.
Features are extracted once (`simclr.eval.features`), then each probe is a few seconds of CPU work.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from simclr.errors import UserError
from simclr.eval.feature_preparation import FeaturePreparation, feature_preparation


@dataclass
class ProbeRecipe:
    """How a linear probe is trained: full-batch L-BFGS on z-scored features, L2 on the weights.

    Multinomial logistic regression is convex, so a quasi-Newton solver on the whole train split reaches
    the optimum without a learning rate or batch size to tune, and the result does not depend on batch
    order. The solver runs on PCA-whitened features with the penalty mapped back (`simclr.eval.whitening`):
    the same objective, but a well-conditioned one, so L-BFGS converges in tens of iterations instead of
    hundreds (docs/probe.md has the measured convergence). The features must fit in memory (they are
    cached for all probes anyway); full-batch matmuls are large enough that all CPU threads help.
    """

    max_iter: int = 50  # L-BFGS iterations over the full train split (strong-Wolfe line search)
    weight_decay: float = 1e-4  # L2 penalty weight_decay * ||W||^2 added to the mean cross-entropy (bias exempt)
    history_size: int = 20  # L-BFGS curvature pairs kept
    standardise: bool = True  # z-score features with the train split's per-dimension mean and std
    whiten: bool = True  # precondition: solve on PCA-whitened features (same optimum, ~10x fewer iterations)
    whiten_max_dim: int = 4096  # wider features (e.g. STL-10 pixels, 27648-d) stay plain: eigh is O(D^3), D x D memory
    seed: int = 0  # seeds the probe's initialisation
    num_threads: int | None = None  # CPU intra-op threads while training (restored after); None keeps torch's


class LinearProbe(nn.Module):
    """A single linear layer on (standardised) frozen features.

    Args:
        in_dim: feature dimension D.
        num_classes: number of classes K.
        weight_decay: L2 penalty on the weight matrix (the bias is exempt).
        mean: (D,) subtracted from features before the layer; with `std`, or None for neither.
        std: (D,) features are divided by it (after `mean`).
        penalty: (D,) per-input-dimension weights of the L2 term, sum_j penalty_j ||W[:, j]||^2 (the
            whitened problem's image of ||W||^2, `simclr.eval.whitening.whitening`), or None for plain L2.
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        weight_decay: float = ProbeRecipe.weight_decay,
        mean: Tensor | None = None,
        std: Tensor | None = None,
        penalty: Tensor | None = None,
    ):
        super().__init__()
        self.linear = nn.Linear(in_dim, num_classes)
        self.weight_decay = weight_decay
        if (mean is None) != (std is None):
            raise ValueError("LinearProbe takes both mean and std, or neither")
        self.register_buffer("mean", None if mean is None else mean.detach().clone().float())
        self.register_buffer("std", None if std is None else std.detach().clone().float())
        self.register_buffer("penalty", None if penalty is None else penalty.detach().clone().float())

    def forward(self, x: Tensor) -> Tensor:
        """features (B, D) -> logits (B, K)."""
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return self.linear(x)

    def objective(self, logits: Tensor, y: Tensor) -> Tensor:
        """The convex objective L-BFGS minimises: mean cross-entropy of logits (B, K) against y (B,) plus
        weight_decay * sum_j penalty_j ||W[:, j]||^2 (penalty_j = 1 without whitening); a scalar."""
        squares = self.linear.weight.pow(2)  # (K, D)
        if self.penalty is not None:
            squares = squares * self.penalty
        return F.cross_entropy(logits, y) + self.weight_decay * squares.sum()


@contextmanager
def cpu_threads(n: int | None):
    """Sets torch's intra-op CPU threads to n inside the block (no change if n is None) and restores them."""
    before = torch.get_num_threads()
    try:
        if n is not None:
            torch.set_num_threads(n)
        yield
    finally:
        torch.set_num_threads(before)


def prepared_features(train_x: Tensor, test_x: Tensor, recipe: ProbeRecipe) -> tuple[Tensor, Tensor, Tensor | None]:
    """The features a probe trains on: z-scored and whitened as the recipe says, with the train split's statistics.

    Args:
        train_x: (N, D) features; test_x: (M, D) features.
        recipe: `standardise` and `whiten` flags (whitening only up to `whiten_max_dim` dimensions) and the
            weight decay (which sets the whitening shift).

    Returns:
        (train (N, D) float32, test (M, D) float32, penalty (D,) for `LinearProbe` when whitened, else None).
    """
    prep = feature_preparation(train_x, recipe.standardise, recipe.whiten and train_x.shape[1] <= recipe.whiten_max_dim,
                               recipe.weight_decay)  # fmt: skip
    return prep(train_x), prep(test_x), prep.penalty


def train_probe(
    train_x: Tensor,
    train_y: Tensor,
    num_classes: int,
    recipe: ProbeRecipe = ProbeRecipe(),
    penalty: Tensor | None = None,
) -> LinearProbe:
    """Fits a `LinearProbe` to prepared features (`prepared_features`): full-batch L-BFGS, `recipe.max_iter` iterations.

    Plain torch: one `LBFGS.step` over the whole split (strong-Wolfe line search), no loop to manage.

    Args:
        train_x: (N, D) float features; train_y: (N,) int64 labels in [0, num_classes).
        num_classes: K.
        recipe: optimisation settings; `recipe.seed` seeds the initialisation.
        penalty: (D,) L2 weights of the whitened problem, or None.
    """
    with torch.random.fork_rng(devices=[]), cpu_threads(None if train_x.is_cuda else recipe.num_threads):
        torch.manual_seed(recipe.seed)
        probe = LinearProbe(train_x.shape[1], num_classes, recipe.weight_decay, penalty=penalty).to(train_x.device)
        y = train_y.long().to(train_x.device)
        optimizer = torch.optim.LBFGS(
            probe.parameters(),
            lr=1.0,
            max_iter=recipe.max_iter,
            history_size=recipe.history_size,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = probe.objective(probe(train_x), y)
            loss.backward()
            return loss

        optimizer.step(closure)
    return probe.eval()


@torch.no_grad()
def top1_and_predictions(
    probe: nn.Module, x: Tensor, y: Tensor, num_classes: int, batch_size: int = 8192
) -> tuple[float, Tensor]:
    """Top-1 accuracy of `probe` on features x (M, D) against labels y (M,) (torchmetrics), and its
    predicted classes (M,) int64, computed in batches."""
    metric = MulticlassAccuracy(num_classes, average="micro").to(x.device)
    predicted = []
    for start in range(0, len(x), batch_size):
        logits = probe(x[start : start + batch_size])  # (b, K)
        metric.update(logits, y[start : start + batch_size].to(x.device))
        predicted.append(logits.argmax(1))
    return float(metric.compute()), torch.cat(predicted)


def fitted_probe(
    train_x: Tensor, train_y: Tensor, num_classes: int, recipe: ProbeRecipe = ProbeRecipe()
) -> tuple[FeaturePreparation, LinearProbe]:
    """The recipe's preparation of the features (fitted on train x (N, D)) and the probe trained on them."""
    if recipe.max_iter < 1:
        raise UserError(
            f"the linear probe needs max_iter >= 1 L-BFGS iterations, got {recipe.max_iter}; pass --max_iter {ProbeRecipe.max_iter}"
        )
    with cpu_threads(None if train_x.is_cuda else recipe.num_threads):
        prep = feature_preparation(train_x, recipe.standardise,
                                   recipe.whiten and train_x.shape[1] <= recipe.whiten_max_dim, recipe.weight_decay)  # fmt: skip
        prepared = prep(train_x)
    return prep, train_probe(prepared, train_y, num_classes, recipe, prep.penalty)


def fit_linear_probe_predictions(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    num_classes: int,
    recipe: ProbeRecipe = ProbeRecipe(),
) -> tuple[float, Tensor]:
    """`fit_linear_probe`, also returning the probe's predicted test classes (M,) (e.g. for a confusion matrix)."""
    prep, probe = fitted_probe(train_x, train_y, num_classes, recipe)
    with cpu_threads(None if train_x.is_cuda else recipe.num_threads):
        test_x = prep(test_x)
    return top1_and_predictions(probe, test_x, test_y.long(), num_classes)


def fit_linear_classifier(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    num_classes: int,
    recipe: ProbeRecipe = ProbeRecipe(),
) -> tuple[float, nn.Linear]:
    """The probe of `fit_linear_probe` as one linear layer on the raw features (its standardisation and whitening
    folded into the weight and bias, `FeaturePreparation.fold`), and its test top-1 on those raw features.

    Args:
        train_x, train_y, test_x, test_y, num_classes, recipe: as in `fit_linear_probe`.

    Returns:
        (test top-1 in [0, 1], nn.Linear(D, K) in eval mode on the device of train_x).
    """
    prep, probe = fitted_probe(train_x, train_y, num_classes, recipe)
    layer = prep.fold(probe.linear)
    return top1_and_predictions(layer, test_x.float(), test_y.long(), num_classes)[0], layer


def fit_linear_probe(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    num_classes: int,
    recipe: ProbeRecipe = ProbeRecipe(),
) -> float:
    """Trains a `LinearProbe` on train features and returns its test top-1 accuracy.

    Args:
        train_x: (N, D) float features; train_y: (N,) int64 labels in [0, num_classes).
        test_x: (M, D) float features; test_y: (M,) int64 labels.
        num_classes: K.
        recipe: optimisation settings; `recipe.seed` makes the result reproducible.

    Returns:
        test top-1 accuracy in [0, 1].
    """
    return fit_linear_probe_predictions(train_x, train_y, test_x, test_y, num_classes, recipe)[0]
