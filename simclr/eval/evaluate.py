"""Evaluate a SimCLR model: linear probe and kNN on h, every head layer and z, against a random encoder
and raw pixels; plus alignment / uniformity / RankMe diagnostics.

Features are extracted once from the frozen model (`simclr.eval.features`); every probe then works on
in-memory feature matrices, so the encoder is never trained here.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset

from simclr.data.datamodules import ImageDataModule
from simclr.eval.diagnostics import representation_diagnostics
from simclr.eval.features import extract_representations, pixel_features
from simclr.eval.linear_probe import ProbeRecipe
from simclr.eval.probe import (
    KNN_K,
    KNN_ON,
    KNN_TEMPERATURE,
    encoder_features,
    probe_features,
    probe_representations,
    timed,
)
from simclr.eval.report import ProbeRow
from simclr.methods.simclr import SimCLR
from simclr.models.representations import projection_head

log = logging.getLogger(__name__)
DIAGNOSTIC_IMAGES = 2048  # test images whose two augmented views feed alignment / uniformity


def random_encoder_like(encoder: nn.Module) -> nn.Module:
    """A freshly, randomly initialised encoder of the same architecture (the random-weights baseline).

    Uses `encoder.fresh_copy()` when it exists (ResNetEncoder rebuilds itself from its constructor
    arguments); otherwise deep-copies and calls `reset_parameters()` / `reset_running_stats()` on every
    submodule that has them. Seed the global RNG first for a reproducible copy.
    """
    if hasattr(encoder, "fresh_copy"):
        fresh = encoder.fresh_copy()
    else:
        fresh = copy.deepcopy(encoder)
        for m in fresh.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
            if hasattr(m, "reset_running_stats"):
                m.reset_running_stats()
    device = next(encoder.parameters(), torch.empty(0)).device
    return fresh.to(device).train(encoder.training)


def view_of(augment: nn.Module, images: Tensor, v: int) -> Tensor:
    """View v of one `augment(images)` call; with fewer views, view 0 of a further call (a fresh draw)."""
    views = augment(images)
    return views[v] if v < len(views) else augment(images)[0]


def augmented_view_features(
    model: SimCLR, dataset: Dataset, batch_size: int, device: str | torch.device, seed: int
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Representations of two augmented views of every image in `dataset` (under a fixed seed).

    Both passes replay the same RNG stream, so pass v takes view v of one `model.augment` call: the two
    views of an image are independent draws, and the result does not depend on the global RNG. An augment that
    makes one view (an image-text model's) is called a second time in pass 2 for an independent second view.

    Returns:
        (view-1 features, view-2 features), each name -> (N, D) as in `extract_representations`.
    """
    views = []
    for v in range(2):
        with torch.random.fork_rng(devices=[torch.device(device)] if torch.device(device).type == "cuda" else []):
            torch.manual_seed(seed)
            feats, _ = extract_representations(
                model.encoder,
                projection_head(model.head),
                dataset,
                lambda images, v=v: view_of(model.augment, images, v),
                batch_size,
                device,
            )
        views.append(feats)
    return views[0], views[1]


def evaluate_checkpoint(
    model: SimCLR,
    datamodule: ImageDataModule,
    recipe: ProbeRecipe = ProbeRecipe(),
    knn_k: int = KNN_K,
    knn_temperature: float = KNN_TEMPERATURE,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
    pixels: bool = True,
    random_baseline: bool = True,
    diagnostics: bool = True,
    seed: int = 0,
    representations: list[str] | None = None,
    test_outputs: dict[str, Tensor] | None = None,
) -> tuple[list[ProbeRow], dict]:
    """Probes every representation of a frozen SimCLR model on the datamodule's labelled splits.

    Args:
        model: the trained model; moved to `device`, its weights and BN statistics never change.
        datamodule: gives `labelled_dataset("train" | "test")` and `num_classes`.
        recipe: linear-probe settings (shared by all rows).
        knn_k: neighbours of the kNN classifier; knn_temperature: its vote temperature.
        device: where features are extracted; probes run where the features are (the CPU).
        batch_size: images per extraction batch.
        pixels: add the raw-pixel baseline row (linear only: kNN on C*H*W dims is slow and weak).
        random_baseline: add `random_h`, a randomly initialised encoder of the same architecture.
        diagnostics: compute alignment / uniformity / RankMe / spectrum for h and z.
        seed: seeds the random encoder and the augmented views of the diagnostics.
        representations: which of h, head_1, ..., z to probe; all of them if None.
        test_outputs: when a dict, filled with the test split's "h" (M, D), "labels" (M,) and, when h is
            probed, the h linear probe's "h_predictions" (M,) (for the TensorBoard pictures of `simclr probe`).

    Returns:
        (rows in the order h, head_1, ..., z, random_h, pixels; diagnostics {"h": {...}, "z": {...}} or {}).
    """
    model.to(device)
    normalise = model.augment.normalise
    train_set, test_set = datamodule.labelled_dataset("train"), datamodule.labelled_dataset("test")
    num_classes = datamodule.num_classes
    log.info("evaluating on %d train / %d test images, %d classes", len(train_set), len(test_set), num_classes)

    layout = torch.channels_last if getattr(model, "channels_last", False) else torch.contiguous_format
    feats = encoder_features(model.encoder, train_set, test_set, normalise, model.head, batch_size, device, layout)
    rows = probe_representations(
        feats, num_classes, representations, recipe=recipe, knn_k=knn_k, knn_temperature=knn_temperature,
        test_outputs=test_outputs,
    )  # fmt: skip

    if random_baseline:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            random_encoder = random_encoder_like(model.encoder).to(memory_format=layout)
        rand = encoder_features(random_encoder, train_set, test_set, normalise, None, batch_size, device, layout)
        train, test = (rand.train["h"], rand.train_y), (rand.test["h"], rand.test_y)
        rows.append(probe_features("random_h", train, test, num_classes, recipe, "random_h" in KNN_ON, knn_k))
        del rand

    if pixels:
        pix_train, pix_test = (
            pixel_features(train_set, normalise, batch_size),
            pixel_features(test_set, normalise, batch_size),
        )
        rows.append(probe_features("pixels", pix_train, pix_test, num_classes, recipe, knn=False))
        del pix_train, pix_test

    diag: dict = {}
    if diagnostics:
        with timed("diagnostics"):
            subset = Subset(test_set, range(min(DIAGNOSTIC_IMAGES, len(test_set))))
            view1, view2 = augmented_view_features(model, subset, batch_size, device, seed)
            keep = [k for k in ("h", "z") if k in feats.test]
            diag = representation_diagnostics(
                {k: view1[k] for k in keep}, {k: view2[k] for k in keep}, {k: feats.test[k] for k in keep}
            )
    return rows, diag
