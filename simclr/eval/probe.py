"""The one probe routine: frozen features of any encoder on a labelled train and a test set, then a linear
probe (and kNN) on each representation.

    rows = probe_encoder(encoder, train_set, test_set, normalise, head=head)   # [ProbeRow("h", ...), ...]
    row, layer = probe_classifier(encoder, train_set, test_set, normalise, 10, "head_1", head)  # nn.Linear on head_1

`simclr probe`, `simclr compare`, `simclr compare-augs`, the fine-tuning reports, the benchmarks and the
notebooks all probe through `probe_encoder` (or `probe_features` for features they made themselves, such
as raw pixels), so one recipe and one kNN default hold everywhere. The encoder is never trained here.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from simclr.errors import UserError
from simclr.eval.features import Normalise, extract_representations
from simclr.eval.knn import KNN_K, KNN_TEMPERATURE, knn_top1
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_classifier, fit_linear_probe_predictions
from simclr.eval.report import ProbeRow
from simclr.models.representations import projection_head

log = logging.getLogger(__name__)
KNN_ON = ("h", "z")  # representations that also get a kNN score by default


@contextmanager
def timed(what: str):
    """Logs how long the block took."""
    start = time.perf_counter()
    yield
    log.info("%s: %.1f s", what, time.perf_counter() - start)


@dataclass
class Features:
    """Frozen features of a train and a test set: name ("h", "head_1", ..., "z") -> (N, D) float32, labels (N,)."""

    train: dict[str, Tensor]
    train_y: Tensor
    test: dict[str, Tensor]
    test_y: Tensor


def encoder_features(
    encoder: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    normalise: Normalise,
    head: nn.Module | None = None,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> Features:
    """h (and, with a projection `head`, every head layer and z) of every image of both sets, in order.

    Args:
        encoder: float images (B, C, H, W) -> h (B, D); already on `device`.
        train_set, test_set: (uint8 (C, H, W), label) items.
        normalise: uint8 (B, C, H, W) on `device` -> float (B, C, H, W) (the model's evaluation view).
        head: a `ProjectionHead` (its hidden layers and z are probed too), or None / a head without
            readable layers (h only).
        batch_size: images per forward pass; device: where the passes run.
        memory_format: the encoder's input layout (e.g. `torch.channels_last`).
    """
    head = projection_head(head)
    with timed("feature extraction (train + test)"):
        train, train_y = extract_representations(encoder, head, train_set, normalise, batch_size, device, memory_format)
        test, test_y = extract_representations(encoder, head, test_set, normalise, batch_size, device, memory_format)
    return Features(train, train_y, test, test_y)


def probe_features(
    name: str,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    num_classes: int,
    recipe: ProbeRecipe = ProbeRecipe(),
    knn: bool = True,
    knn_k: int = KNN_K,
    knn_temperature: float = KNN_TEMPERATURE,
    predictions: dict[str, Tensor] | None = None,
) -> ProbeRow:
    """Linear probe (and kNN if `knn`) of one representation: train / test = (features (N, D), labels (N,)).

    When `predictions` is a dict, the linear probe's test predictions
    (M,) go into it under f"{name}_predictions".
    """
    with timed(f"linear probe on {name} ({train[0].shape[1]} dims)"):
        linear, predicted = fit_linear_probe_predictions(train[0], train[1], test[0], test[1], num_classes, recipe)
    if predictions is not None:
        predictions[f"{name}_predictions"] = predicted  # (M,)
    knn_acc = None
    if knn:
        with timed(f"kNN (k={knn_k}) on {name}"):
            knn_acc = knn_top1(train[0], train[1], test[0], test[1], num_classes, knn_k, knn_temperature)
    log.info("%s: linear top-1 %.4f, kNN top-1 %s", name, linear, "-" if knn_acc is None else f"{knn_acc:.4f}")
    return ProbeRow(name, int(train[0].shape[1]), linear, knn_acc)


def probe_representations(
    feats: Features,
    num_classes: int,
    representations: list[str] | None = None,
    knn_on: tuple[str, ...] = KNN_ON,
    recipe: ProbeRecipe = ProbeRecipe(),
    knn_k: int = KNN_K,
    knn_temperature: float = KNN_TEMPERATURE,
    test_outputs: dict[str, Tensor] | None = None,
) -> list[ProbeRow]:
    """`probe_features` on each representation of `feats` (all, or those in `representations`), in order;
    the arguments as in `probe_encoder`."""
    if test_outputs is not None:
        test_outputs.update(h=feats.test["h"], labels=feats.test_y)
    return [
        probe_features(
            name,
            (feats.train[name], feats.train_y),
            (feats.test[name], feats.test_y),
            num_classes,
            recipe,
            name in knn_on,
            knn_k,
            knn_temperature,
            test_outputs if name == "h" else None,
        )
        for name in feats.train
        if representations is None or name in representations
    ]


def probe_encoder(
    encoder: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    normalise: Normalise,
    num_classes: int,
    head: nn.Module | None = None,
    representations: list[str] | None = None,
    knn_on: tuple[str, ...] = KNN_ON,
    recipe: ProbeRecipe = ProbeRecipe(),
    knn_k: int = KNN_K,
    knn_temperature: float = KNN_TEMPERATURE,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
    test_outputs: dict[str, Tensor] | None = None,
) -> list[ProbeRow]:
    """Probe a frozen encoder: features of both sets once (`encoder_features`), then `probe_features` on each.

    Args:
        encoder, train_set, test_set, normalise, head, batch_size, device, memory_format: as in
            `encoder_features`.
        num_classes: K; labels are in [0, K).
        representations: which of h, head_1, ..., z to probe, in that order; all of them if None.
        knn_on: the representations that also get a kNN score.
        recipe: the linear probe's settings; knn_k, knn_temperature: the kNN probe's.
        test_outputs: when a dict, filled with the test set's "h" (M, D), "labels" (M,) and, when h is
            probed, the h linear probe's "h_predictions" (M,).

    Returns:
        one row per representation, in the order h, head_1, ..., z.
    """
    feats = encoder_features(encoder, train_set, test_set, normalise, head, batch_size, device, memory_format)
    return probe_representations(
        feats, num_classes, representations, knn_on, recipe, knn_k, knn_temperature, test_outputs
    )


def probe_classifier(
    encoder: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    normalise: Normalise,
    num_classes: int,
    representation: str = "h",
    head: nn.Module | None = None,
    recipe: ProbeRecipe = ProbeRecipe(),
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> tuple[ProbeRow, nn.Linear]:
    """The linear probe on one representation of a frozen encoder, returned as a layer too: LP-FT's start.

    The probe's standardisation and whitening are folded into one `nn.Linear` on the raw representation
    (`simclr.eval.feature_preparation.FeaturePreparation.fold`), so a network that ends in that layer computes
    the probe's logits exactly; the row's top-1 is that layer's on the test set (no kNN).

    Args:
        encoder, train_set, test_set, normalise, head, batch_size, device, memory_format: as in
            `encoder_features`.
        num_classes: K; labels are in [0, K).
        representation: h, head_1, ..., or z (a layer of `head`).
        recipe: the linear probe's settings.

    Returns:
        (the probe's row, nn.Linear(D, K) on the CPU in eval mode).
    """
    feats = encoder_features(encoder, train_set, test_set, normalise, head, batch_size, device, memory_format)
    if representation not in feats.train:
        raise UserError(
            f"the probe cannot read {representation}: the model has {', '.join(feats.train)}; pass one of those"
        )
    train_x, test_x = feats.train[representation], feats.test[representation]
    with timed(f"linear probe on {representation} ({train_x.shape[1]} dims), as a layer"):
        top1, layer = fit_linear_classifier(train_x, feats.train_y, test_x, feats.test_y, num_classes, recipe)
    return ProbeRow(representation, int(train_x.shape[1]), top1, None), layer
