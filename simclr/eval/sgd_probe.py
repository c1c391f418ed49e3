"""Linear evaluation that scales: SGD on augmented crops streamed through the frozen encoder (SimCLR appendix B.5).

SimCLR's protocol: "we train a linear classifier ... using Nesterov momentum ... with a cosine learning
rate schedule", on random crops and flips, features never stored. Every epoch each batch is augmented on
the device, passed through the frozen encoder (eval mode, no gradient), and every probed representation's
linear layer takes one step; memory holds one batch of features, whatever the dataset size. A BatchNorm
without affine parameters standardises each representation on the fly (as SimCLR's linear head does).
The L-BFGS probe (`simclr.eval.linear_probe`) is exact but needs all features in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchmetrics.classification import MulticlassAccuracy

from augmentations import RandomHorizontalFlip, RandomResizedCrop, ViewPipeline
from simclr.data.datasets import collate_batch
from simclr.errors import UserError
from simclr.eval.report import ProbeRow
from simclr.models.representations import projection_head, representation_names
from simclr.training.optim import warmup_cosine

FeatureStream = Callable[[], Iterable[tuple[dict[str, Tensor], Tensor]]]  # () -> batches of ({name: (B, D)}, (B,))


@dataclass
class SGDProbeRecipe:
    """How the streamed probes train: SGD with Nesterov momentum and a cosine schedule over all steps."""

    epochs: int = 10  # passes over the training split, each on fresh crops
    lr: float = 0.1  # peak learning rate (SimCLR: 0.1 x batch / 256 with batches of 4096)
    momentum: float = 0.9  # Nesterov momentum
    weight_decay: float = 0.0  # L2 on the weights (SimCLR's linear evaluation uses none)
    crop_scale: tuple[float, float] = (
        1.0,
        1.0,
    )  # area range of the random resized crops; (1, 1) = flip only (see docs/finetune.md)
    seed: int = 0  # seeds the probes' initialisation and the crops

    def check(self) -> None:
        """One-line UserErrors for options no run can use."""
        if self.epochs < 1:
            raise UserError(f"--epochs {self.epochs} is below 1; pass the passes of the SGD probe, e.g. --epochs 10")
        if not self.lr > 0:
            raise UserError(f"--lr {self.lr} must be > 0; pass the SGD probe's learning rate, e.g. --lr 0.1")
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise UserError(f"--crop_scale {list(self.crop_scale)} must satisfy 0 < low <= high <= 1, e.g. [0.08, 1]")


def linear_head(dim: int, num_classes: int) -> nn.Module:
    """Features (B, D) -> BatchNorm without affine (running standardisation) -> logits (B, K)."""
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, num_classes))


def fit_streamed_probes(
    train: FeatureStream,
    dims: dict[str, int],
    num_classes: int,
    steps_per_epoch: int,
    recipe: SGDProbeRecipe = SGDProbeRecipe(),
    device: str | torch.device = "cpu",
) -> dict[str, nn.Module]:
    """One linear probe per representation, all trained from one stream of feature batches.

    Args:
        train: called once per epoch; yields ({name: features (B, dims[name])}, labels (B,)) on `device`.
        dims: feature dimension D of each representation.
        num_classes: K.
        steps_per_epoch: batches per epoch (sets the cosine schedule's length).
        recipe: SGD settings.
        device: where the probes live.

    Returns:
        name -> probe in eval mode, features (B, D) -> logits (B, K).
    """
    recipe.check()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        probes = {name: linear_head(dim, num_classes).to(device) for name, dim in dims.items()}
    params = [p for probe in probes.values() for p in probe.parameters()]
    optimizer = torch.optim.SGD(
        params, lr=recipe.lr, momentum=recipe.momentum, nesterov=True, weight_decay=recipe.weight_decay
    )
    total = recipe.epochs * max(1, steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, total, 0))
    for _ in range(recipe.epochs):
        for features, labels in train():
            loss = sum(F.cross_entropy(probes[name](features[name]), labels) for name in probes)  # independent sums
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return {name: probe.eval() for name, probe in probes.items()}


@torch.no_grad()
def score_streamed_probes(probes: dict[str, nn.Module], test: FeatureStream, num_classes: int) -> dict[str, float]:
    """Test top-1 in [0, 1] of each probe (torchmetrics) over a stream of ({name: (B, D)}, labels (B,)) batches."""
    metrics = {
        name: MulticlassAccuracy(num_classes, average="micro").to(next(p.parameters()).device)
        for name, p in probes.items()
    }
    for features, labels in test():
        for name, probe in probes.items():
            metrics[name].update(probe(features[name]), labels)
    return {name: float(metric.compute()) for name, metric in metrics.items()}


def crop_flip(size: int, mean: Tensor, std: Tensor, scale: tuple[float, float]) -> ViewPipeline:
    """The probe's training augmentation: random resized crop to `size` and horizontal flip, then normalise."""
    return ViewPipeline(
        [RandomResizedCrop(size, scale=scale), RandomHorizontalFlip()], mean.flatten().tolist(), std.flatten().tolist()
    )


def image_stream(
    dataset: Dataset,
    extract: Callable[[Tensor], dict[str, Tensor]],
    view: Callable[[Tensor], Tensor],
    batch_size: int,
    device: torch.device,
    shuffle_seed: int | None,
) -> FeatureStream:
    """A FeatureStream over images: uint8 batches moved to `device`, `view` (augment or normalise), then `extract`.

    Args:
        dataset: (uint8 (C, H, W), label) items.
        extract: normalised images (B, C, H, W) -> {name: (B, D)}, run without gradient.
        view: uint8 (B, C, H, W) on the device -> float (B, C, H, W).
        batch_size: images per batch.
        device: where the views and features are made.
        shuffle_seed: None for in-order batches; else a new order each epoch from a generator seeded once.
    """
    generator = None if shuffle_seed is None else torch.Generator().manual_seed(shuffle_seed)
    shuffle = generator is not None
    drop_last = shuffle and len(dataset) % batch_size == 1  # BatchNorm cannot train on a batch of one
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        drop_last=drop_last,
        collate_fn=collate_batch,
    )

    def batches() -> Iterable[tuple[dict[str, Tensor], Tensor]]:
        for images, labels in loader:
            images = images.to(device, non_blocking=True)
            with torch.no_grad():
                features = extract(view(images))
            yield {name: f.float() for name, f in features.items()}, labels.to(device).long()

    return batches


def frozen_extractor(
    encoder: nn.Module, head: nn.Module | None, names: list[str], memory_format: torch.memory_format
) -> Callable[[Tensor], dict[str, Tensor]]:
    """Normalised images (B, C, H, W) -> {name: (B, D)} for `names` among h, head_1, ..., z (modules in eval mode)."""
    available = representation_names(projection_head(head))

    def extract(x: Tensor) -> dict[str, Tensor]:
        h = encoder(x.contiguous(memory_format=memory_format))  # (B, feature_dim)
        outs = [h] + (head.forward_all(h) if head is not None and len(available) > 1 else [])
        return {name: out for name, out in zip(available, outs) if name in names}

    return extract


def evaluate_with_sgd(
    model: nn.Module,
    datamodule,
    recipe: SGDProbeRecipe = SGDProbeRecipe(),
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    representations: list[str] | None = None,
    baselines: bool = True,
) -> list[ProbeRow]:
    """Streamed SGD probes of a frozen SimCLR model, rows as the L-BFGS evaluation reports them (no kNN).

    Args:
        model: a SimCLR module (encoder, head, augment with `normalise` and its pipeline's mean and std).
        datamodule: gives `labelled_dataset("train" | "test")`, `num_classes` and `image_size`.
        recipe: SGD settings.
        device: where the encoder runs and the probes train.
        batch_size: images per SGD step.
        representations: which of h, head_1, ..., z to probe; all of them if None.
        baselines: also probe a random encoder of the same architecture (random_h) and raw pixels.

    Returns:
        ProbeRow per representation (then random_h, pixels), knn_top1 None.
    """
    from simclr.eval.evaluate import random_encoder_like

    recipe.check()
    device = torch.device(device)
    model.to(device)
    head = projection_head(model.head)
    names = representations or representation_names(head)
    layout = torch.channels_last if getattr(model, "channels_last", False) else torch.contiguous_format
    pipeline = getattr(model.augment, "pipeline", model.augment)
    augment = crop_flip(datamodule.image_size, pipeline.mean, pipeline.std, recipe.crop_scale).to(device)
    modules = [model.encoder] + ([head] if head is not None else [])
    extract = frozen_extractor(model.encoder, head, names, layout)
    if baselines:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(recipe.seed)
            random_encoder = random_encoder_like(model.encoder).to(memory_format=layout).eval()
        main = extract

        def extract(x: Tensor) -> dict[str, Tensor]:
            return {**main(x), "random_h": random_encoder(x.contiguous(memory_format=layout)), "pixels": x.flatten(1)}

    train_set, test_set = datamodule.labelled_dataset("train"), datamodule.labelled_dataset("test")
    was_training = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        first_images, _ = next(iter(DataLoader(test_set, batch_size=2, collate_fn=collate_batch)))
        with torch.no_grad():
            sample = extract(model.augment.normalise(first_images.to(device)))  # {name: (2, D)}
        dims = {name: f.shape[1] for name, f in sample.items()}
        train = image_stream(train_set, extract, augment, batch_size, device, recipe.seed)
        test = image_stream(test_set, extract, model.augment.normalise, batch_size, device, None)
        steps = len(train_set) // batch_size if len(train_set) % batch_size == 1 else -(-len(train_set) // batch_size)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(recipe.seed)  # the crops
            probes = fit_streamed_probes(train, dims, datamodule.num_classes, steps, recipe, device)
        scores = score_streamed_probes(probes, test, datamodule.num_classes)
    finally:
        for m, flag in zip(modules, was_training):
            m.train(flag)
    return [ProbeRow(name, dims[name], scores[name], None) for name in dims]
