"""Compare augmentation strategies: one short pretraining run per strategy, everything else fixed,
then linear probes of h and z on frozen features.

Protocol (one-sided, as in the paper's Figure 5, SimCLR section 3): "we then apply the targeted
transformation(s) only to one branch of the framework in Figure 2, while leaving the other branch as the
identity (i.e. t(x_i) = x_i)". The paper's first step, "we always first randomly crop images and resize
them to the same resolution", gives ImageNet images one size; our data modules already deliver one
size (Fashion-MNIST 28 x 28, CIFAR 32 x 32, ImageFolder centre crops), so that step is the identity here
and "crop" is a transformation like the others. `one_sided=False` augments both views instead (SimCLR
training proper). Every run starts from the same initial weights and sees the same batches (seeded).

    rows = compare_strategies(load_strategies("configs/strategies/pairs_fashion_mnist.yaml"), build_model, datamodule,
                   Budget(epochs=1, train_images=8192, probe_images=10000))
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import Dataset, Subset

from augmentations.pipeline import ViewPipeline
from augmentations.views import MultiView, OneSidedViews
from simclr.ablation.budget import Budget
from simclr.ablation.names import check_names
from simclr.ablation.results import UNTRAINED, CompareRow, write_rows
from simclr.ablation.strategies import Strategy
from simclr.data.datamodules import ImageDataModule
from simclr.eval.linear_probe import ProbeRecipe
from simclr.eval.probe import probe_encoder
from simclr.methods.simclr import SimCLR
from simclr.warning_filters import quiet_known_warnings

log = logging.getLogger(__name__)


def fixed_subset(dataset: Dataset, n: int | None, seed: int) -> Dataset:
    """A random subset of n items drawn with `seed` (the same for every strategy); the dataset if n is None or >= its size."""
    if n is None or n >= len(dataset):
        return dataset
    generator = torch.Generator().manual_seed(seed)
    return Subset(dataset, torch.randperm(len(dataset), generator=generator)[:n].tolist())


def views_for(strategy: Strategy, base: ViewPipeline, one_sided: bool) -> torch.nn.Module:
    """The two-view module of a strategy, normalised with the base pipeline's mean and std."""
    pipeline = ViewPipeline(strategy.transforms, mean=base.mean.flatten().tolist(), std=base.std.flatten().tolist())
    return OneSidedViews(pipeline) if one_sided else MultiView(pipeline, n_views=2)


@contextmanager
def quiet_lightning():
    """Silences Lightning's per-Trainer info lines, the few-workers warning and `quiet_known_warnings` inside
    the block."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            quiet_known_warnings()
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def comparison_trainer(
    budget: Budget, accelerator: str, precision: str | None, callbacks: list[L.Callback] | None = None
) -> L.Trainer:
    """The Trainer of every comparison run (simclr compare, simclr compare-augs): one device, the budget's length,
    no logger, checkpoints, progress bar or sanity check; call it inside `quiet_lightning()`."""
    return L.Trainer(
        accelerator=accelerator,
        devices=1,
        **budget.trainer_limits(),
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        callbacks=callbacks,
    )


def probe_h_and_z(
    model: SimCLR, train: Dataset, test: Dataset, num_classes: int, budget: Budget, seed: int, device: torch.device
) -> dict[str, float]:
    """Linear-probe test top-1 of h and z of a frozen model: {"h": ..., "z": ...} (`simclr.eval.probe`)."""
    model.to(device)
    rows = probe_encoder(model.encoder, train, test, model.augment.normalise, num_classes, head=model.head,
                         representations=["h", "z"], knn_on=(), recipe=ProbeRecipe(max_iter=budget.probe_max_iter,
                         seed=seed), device=device)  # fmt: skip
    return {row.representation: row.linear_top1 for row in rows}


def run_untrained(
    build_model: Callable[[], SimCLR],
    probe_train: Dataset,
    probe_test: Dataset,
    num_classes: int,
    budget: Budget,
    seed: int,
) -> CompareRow:
    """The baseline row: the initial weights every strategy starts from, probed without pretraining."""
    start = time.perf_counter()
    L.seed_everything(seed, verbose=False)
    model = build_model()
    top1 = probe_h_and_z(model, probe_train, probe_test, num_classes, budget, seed, torch.device("cpu"))
    return CompareRow(UNTRAINED, [], top1["h"], top1["z"], None, None, None, time.perf_counter() - start, seed)


def run_strategy(
    strategy: Strategy,
    build_model: Callable[[], SimCLR],
    datamodule: ImageDataModule,
    splits: tuple[Dataset, Dataset, Dataset, Dataset],
    budget: Budget,
    one_sided: bool = True,
    seed: int = 0,
    accelerator: str = "auto",
    precision: str | None = None,
) -> CompareRow:
    """Pretrain a fresh model with the strategy's views, measure held-out contrastive figures, probe h and z.

    Args:
        splits: (pretraining images, validation images, probe-train images, probe-test images).
    """
    pretrain, val, probe_train, probe_test = splits
    start = time.perf_counter()
    L.seed_everything(seed, verbose=False)
    model = build_model()  # the same initial weights for every strategy (a config's seed_everything may reseed)
    L.seed_everything(seed, verbose=False)  # the same batch order and augmentation stream for every strategy
    base = getattr(model.augment, "pipeline", None)
    if not isinstance(base, ViewPipeline):
        raise ValueError(
            f"the base model's augment has no ViewPipeline `pipeline` (got {type(model.augment).__name__}); use augmentations.MultiView over a preset"
        )
    model.augment = views_for(strategy, base, one_sided)
    batch_size = budget.batch_size or datamodule.batch_size
    train_loader = datamodule.loader(pretrain, batch_size, shuffle=True, drop_last=True)
    val_loader = datamodule.loader(val, datamodule.val_batch_size, shuffle=False, drop_last=False)
    with quiet_lightning():
        warnings.filterwarnings("ignore", message=".*have no `val_dataloader`")  # validated below, after fit
        trainer = comparison_trainer(budget, accelerator, precision)
        trainer.fit(model, train_dataloaders=train_loader)
        train_loss = float(trainer.callback_metrics["train/loss"])
        metrics = trainer.validate(model, dataloaders=val_loader, verbose=False)[0]
    top1 = probe_h_and_z(
        model, probe_train, probe_test, datamodule.num_classes, budget, seed, trainer.strategy.root_device
    )
    row = CompareRow(
        strategy.name,
        list(strategy.parts),
        top1["h"],
        top1["z"],
        float(metrics["val/loss"]),
        float(metrics["val/top1"]),
        train_loss,
        time.perf_counter() - start,
        seed,
        trainer.global_step,
        batch_size,
    )
    log.info(
        "%s (seed %d): h %.4f, z %.4f, loss %.3f, contrastive top-1 %.3f, %.0f s",
        row.strategy,
        seed,
        row.h_top1,
        row.z_top1,
        metrics["val/loss"],
        metrics["val/top1"],
        row.seconds,
    )
    return row


def compare_strategies(
    strategies: Sequence[Strategy],
    build_model: Callable[[], SimCLR],
    datamodule: ImageDataModule,
    budget: Budget = Budget(),
    one_sided: bool = True,
    seed: int = 0,
    accelerator: str = "auto",
    precision: str | None = None,
    out_dir: str | Path | None = None,
    untrained: bool = True,
) -> list[CompareRow]:
    """Runs every strategy in order with everything else fixed (see the module docstring for the protocol).

    Args:
        strategies: what to compare (`simclr.ablation.strategies`).
        build_model: returns a fresh SimCLR model (encoder, head, loss, optimiser); called after seeding,
            its `augment` (a MultiView over a ViewPipeline) gives the normalisation and is then replaced.
        datamodule: gives the pretraining set, the labelled train/test splits and the loader settings.
        budget: run length and probe sizes.
        one_sided: the paper's Figure 5 protocol (identity | strategy); False augments both views.
        seed: seeds weights, batch order, subsets, augmentations and probes.
        accelerator, precision: Lightning Trainer settings of the pretraining runs.
        out_dir: if given, `compare.csv` and `compare.json` are rewritten after every strategy.
        untrained: first add the row "untrained": the shared initial weights, probed without pretraining.

    Returns:
        one CompareRow per strategy, in order.
    """
    if not strategies:
        raise ValueError("no strategies to compare; pass at least one (see simclr.ablation.strategies)")
    check_names(
        [s.name for s in strategies], "strategy", "compare", {UNTRAINED: "pass untrained=False"} if untrained else {}
    )
    datamodule.setup("fit")
    test = datamodule.labelled_dataset("test")
    splits = (
        fixed_subset(datamodule.dataset("train"), budget.train_images, seed),
        Subset(test, range(min(budget.val_images, len(test)))),
        fixed_subset(datamodule.labelled_dataset("train"), budget.probe_images, seed + 1),
        test if budget.test_images is None else Subset(test, range(min(budget.test_images, len(test)))),
    )
    rows = [run_untrained(build_model, splits[2], splits[3], datamodule.num_classes, budget, seed)] if untrained else []
    for strategy in strategies:
        rows.append(
            run_strategy(strategy, build_model, datamodule, splits, budget, one_sided, seed, accelerator, precision)
        )
        if out_dir is not None:
            write_rows(rows, out_dir)
    return rows
