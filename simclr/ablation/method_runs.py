"""Compare methods (SimCLR, MoCo v2, BYOL, patches, multi-crop): one pretraining run per method config with
the same budget, data, batches and seed, then the same probes of h (linear top-1, kNN top-1) and the wall
time per training step.

    rows = compare_methods({"simclr": build_simclr, "byol": build_byol}, datamodule, Budget(max_steps=500), seeds=[0])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import Dataset, Subset

from simclr.ablation.budget import Budget
from simclr.ablation.method_table import MethodRow, write_method_rows
from simclr.ablation.runner import comparison_trainer, fixed_subset, quiet_lightning
from simclr.data.datamodules import ImageDataModule
from simclr.eval.features import pixel_features
from simclr.eval.linear_probe import ProbeRecipe
from simclr.eval.probe import KNN_K, probe_encoder, probe_features
from simclr.methods.base import ViewMethod

log = logging.getLogger(__name__)


class StepTimer(L.Callback):
    """Wall time per training step, from the start of the second step to the end of training (the first step
    pays for warm-up and allocation); the device is synchronised at the two ends only."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.first_step = 0
        self.seconds_per_step: float | None = None

    def _sync(self, module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch, batch_idx: int) -> None:
        if self.start is None and trainer.global_step >= 1:
            self._sync(module)
            self.start, self.first_step = time.perf_counter(), trainer.global_step

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._sync(module)
        if self.start is not None and trainer.global_step > self.first_step:
            self.seconds_per_step = (time.perf_counter() - self.start) / (trainer.global_step - self.first_step)


def probe_h(
    model: ViewMethod,
    train: Dataset,
    test: Dataset,
    num_classes: int,
    recipe: ProbeRecipe,
    knn_k: int,
    device,
    probe_z: bool = False,
) -> tuple[float, float, float | None]:
    """(linear top-1, kNN top-1) of the frozen encoder's h, the same recipe for every method, and with
    `probe_z` the linear top-1 of z (the head's output; h itself for a model without a projection head);
    `simclr.eval.probe`."""
    model.to(device)
    rows = probe_encoder(model.encoder, train, test, model.augment.normalise, num_classes,
                         head=getattr(model, "head", None) if probe_z else None, representations=["h", "z"],
                         knn_on=("h",), recipe=recipe, knn_k=min(knn_k, len(train)), device=device)  # fmt: skip
    top1 = {row.representation: row for row in rows}
    h = top1["h"]
    return h.linear_top1, h.knn_top1, (top1["z"].linear_top1 if "z" in top1 else h.linear_top1) if probe_z else None


def baseline_rows(
    build_model: Callable[[], ViewMethod],
    splits: tuple[Dataset, Dataset, Dataset],
    num_classes: int,
    seed: int,
    probe_max_iter: int = ProbeRecipe.max_iter,
    knn_k: int = KNN_K,
    device: str | torch.device = "cpu",
) -> list[MethodRow]:
    """The two reference rows probed like the methods: `random_h` (the first method's encoder at its seeded
    initial weights, never trained) and `pixels` (the normalised raw images, flattened)."""
    _, probe_train, probe_test = splits
    recipe = ProbeRecipe(max_iter=probe_max_iter, seed=seed)
    rows = []
    start = time.perf_counter()
    L.seed_everything(seed, verbose=False)
    model = build_model()
    linear, knn, _ = probe_h(model, probe_train, probe_test, num_classes, recipe, knn_k, device)
    rows.append(
        MethodRow("random_h", type(model).__name__, seed, linear, knn, None, 0, None, time.perf_counter() - start)
    )
    start = time.perf_counter()
    (train_x, train_y), (test_x, test_y) = (pixel_features(split, model.augment.normalise) for split in splits[1:])
    pixels = probe_features("pixels", (train_x, train_y), (test_x, test_y), num_classes, recipe,
                            knn_k=min(knn_k, len(train_y)))  # fmt: skip
    rows.append(
        MethodRow("pixels", "-", seed, pixels.linear_top1, pixels.knn_top1, None, 0, None, time.perf_counter() - start)
    )
    return rows


def run_method(
    name: str,
    build_model: Callable[[], ViewMethod],
    datamodule: ImageDataModule,
    splits: tuple[Dataset, Dataset, Dataset],
    budget: Budget,
    seed: int,
    knn_k: int = KNN_K,
    accelerator: str = "auto",
    precision: str | None = None,
    probe_z: bool = False,
) -> MethodRow:
    """Pretrain a fresh model of one method config, then probe h.

    Args:
        splits: (pretraining images, probe-train images, probe-test images).
    """
    pretrain, probe_train, probe_test = splits
    start = time.perf_counter()
    L.seed_everything(seed, verbose=False)
    model = build_model()
    L.seed_everything(seed, verbose=False)  # the same batch order and augmentation stream for every method
    batch_size = budget.batch_size or datamodule.batch_size
    loader = datamodule.loader(pretrain, batch_size, shuffle=True, drop_last=True)
    timer = StepTimer()
    with quiet_lightning():
        trainer = comparison_trainer(budget, accelerator, precision, [timer])
        trainer.fit(model, train_dataloaders=loader)
    recipe = ProbeRecipe(max_iter=budget.probe_max_iter, seed=seed)
    device = trainer.strategy.root_device
    linear, knn, z_linear = probe_h(
        model, probe_train, probe_test, datamodule.num_classes, recipe, knn_k, device, probe_z
    )
    row = MethodRow(
        name,
        type(model).__name__,
        seed,
        linear,
        knn,
        float(trainer.callback_metrics["train/loss"]),
        trainer.global_step,
        timer.seconds_per_step,
        time.perf_counter() - start,
        z_linear,
        batch_size,
    )
    log.info("%s (seed %d): linear %.4f, kNN %.4f, %s s/step", name, seed, linear, knn, row.seconds_per_step)
    return row


def compare_methods(
    methods: Mapping[str, Callable[[], ViewMethod]],
    datamodule: ImageDataModule,
    budget: Budget = Budget(),
    seeds: Sequence[int] = (0,),
    knn_k: int = KNN_K,
    accelerator: str = "auto",
    precision: str | None = None,
    out_dir: str | Path | None = None,
    baselines: bool = False,
    budgets: Mapping[str, Budget] | None = None,
    probe_z: bool = False,
) -> list[MethodRow]:
    """Every method for every seed, everything else fixed; rows in (seed, method) order.

    Args:
        methods: name -> a function returning a fresh model of that method (called after seeding).
        datamodule: the pretraining images, the labelled train/test splits and the loader settings.
        budget: run length (epochs, max_steps, train_images, batch_size) and probe sizes (probe_images,
            test_images, probe_max_iter); `val_images` is not used.
        seeds: one run per method and seed; the seed fixes weights, batches, subsets, augmentations and probes.
        knn_k: neighbours of the kNN probe (cosine, temperature 0.1).
        accelerator, precision: Lightning Trainer settings of the pretraining runs.
        out_dir: if given, the table files are rewritten after every run.
        baselines: also probe, per seed, a random encoder of the first method and the raw pixels (`baseline_rows`).
        budgets: a method's own run length and batch size (e.g. batch size x steps experiments); `budget`'s
            pretraining subset and probe sizes apply to every method.
        probe_z: also probe z (the projection head's output) with the same linear recipe.
    """
    if not methods:
        raise ValueError("no methods to compare; pass at least one method config")
    datamodule.setup("fit")
    test = datamodule.labelled_dataset("test")
    probe_test = test if budget.test_images is None else Subset(test, range(min(budget.test_images, len(test))))
    rows: list[MethodRow] = []
    for seed in seeds:
        splits = (
            fixed_subset(datamodule.dataset("train"), budget.train_images, seed),
            fixed_subset(datamodule.labelled_dataset("train"), budget.probe_images, seed + 1),
            probe_test,
        )
        for name, build in methods.items():
            own = (budgets or {}).get(name, budget)
            rows.append(run_method(name, build, datamodule, splits, own, seed, knn_k, accelerator, precision, probe_z))
            if out_dir is not None:
                write_method_rows(rows, out_dir)
        if baselines:
            device = (
                "cuda"
                if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
                else "cpu"
            )
            first = next(iter(methods.values()))
            rows += baseline_rows(first, splits, datamodule.num_classes, seed, budget.probe_max_iter, knn_k, device)
            if out_dir is not None:
                write_method_rows(rows, out_dir)
    return rows
