"""Linear probe on frozen features (SimCLR section 4: "a linear classifier is trained on top of the
frozen base network, and test accuracy is used as a proxy for representation quality").

The probe sees features only (h, a head layer, z or pixels), never the encoder, so it cannot change it.
Features are extracted once (`simclr.features`), then each probe is a few seconds of CPU work.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset
from torchmetrics.classification import MulticlassAccuracy


@dataclass
class ProbeRecipe:
    """How a linear probe is trained.

    AdamW with a cosine decay: on z-scored features it converges in a few epochs without tuning,
    unlike SGD whose best lr depends on the feature scale; the cosine decay to zero removes the
    epoch-to-epoch noise of the last iterate. Batches of 4096 (lr 4e-3, 1e-3 x 4096/1024) keep the
    Trainer's per-step overhead small: on Fashion-MNIST (60000 x 128) this matches batch 1024 / lr 1e-3
    in accuracy (80.7 vs 80.5%; full-batch L-BFGS 82.0%) at half the time (8 s vs 18 s on a busy 2-core
    CPU). For small labelled sets (STL-10: 5000) use batch 1024 / lr 1e-3 or more epochs. The probe's matmuls are tiny
    ((B, D) x (D, K)), so on the CPU one thread is faster than several that synchronise on every op
    (4x faster on a busy 2-core machine); `num_threads` is restored afterwards.
    """

    epochs: int = 30  # passes over the train features
    batch_size: int = 4096  # features per optimiser step
    lr: float = 4e-3  # AdamW peak learning rate, cosine-decayed to 0 over all steps
    weight_decay: float = 1e-5  # AdamW decoupled weight decay on the weight matrix
    standardise: bool = True  # z-score features with the train split's per-dimension mean and std
    seed: int = 0  # seeds the probe's initialisation and the batch order
    num_threads: int | None = 1  # CPU intra-op threads while training; None keeps torch's setting


def standardisation(x: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Per-dimension mean (D,) and std (D,) of features x (N, D); std is clamped below at `eps`."""
    return x.mean(0), x.std(0).clamp_min(eps)


class LinearProbe(L.LightningModule):
    """A single linear layer on (standardised) frozen features, trained with cross-entropy.

    Args:
        in_dim: feature dimension D.
        num_classes: number of classes K.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (the bias is exempt).
        mean: (D,) subtracted from features before the layer; none if None.
        std: (D,) features are divided by it (after `mean`); none if None.
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        mean: Tensor | None = None,
        std: Tensor | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["mean", "std"])
        self.linear = nn.Linear(in_dim, num_classes)
        self.register_buffer("mean", torch.zeros(in_dim) if mean is None else mean.detach().clone().float())
        self.register_buffer("std", torch.ones(in_dim) if std is None else std.detach().clone().float())
        self.train_top1 = MulticlassAccuracy(num_classes, average="micro")
        self.test_top1 = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: Tensor) -> Tensor:
        """features (B, D) -> logits (B, K)."""
        return self.linear((x - self.mean) / self.std)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        logits = self(x)  # (B, K)
        loss = F.cross_entropy(logits, y)
        self.train_top1(logits.detach(), y)
        self.log("probe/train_loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log("probe/train_top1", self.train_top1, on_step=False, on_epoch=True)
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor]) -> None:
        x, y = batch
        self.test_top1(self(x), y)
        self.log("probe/test_top1", self.test_top1, on_step=False, on_epoch=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch)

    def configure_optimizers(self):
        params = [
            {"params": [self.linear.weight], "weight_decay": self.hparams.weight_decay},
            {"params": [self.linear.bias], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(params, lr=self.hparams.lr)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def feature_loader(x: Tensor, y: Tensor, batch_size: int, generator: torch.Generator | None = None) -> DataLoader:
    """Batches (features (B, D), labels (B,)) of a TensorDataset, each gathered with one indexing op.

    Shuffled with `generator` if given, else in order. The BatchSampler hands the dataset a list of
    indices, so there is no per-sample Python loop (60000 rows x 30 epochs would take longer than the probe).
    """
    dataset = TensorDataset(x, y)
    order = RandomSampler(dataset, generator=generator) if generator is not None else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)


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


@contextmanager
def quiet_trainer():
    """Silences Lightning's per-Trainer info lines and the few-workers warning (features are in memory)."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
            warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


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
    train_x, test_x = train_x.float(), test_x.float()
    train_y, test_y = train_y.long(), test_y.long()
    accelerator = "gpu" if train_x.is_cuda else "cpu"
    threads = None if train_x.is_cuda else recipe.num_threads
    with torch.random.fork_rng(devices=[]), cpu_threads(threads):
        torch.manual_seed(recipe.seed)
        mean, std = standardisation(train_x) if recipe.standardise else (None, None)
        probe = LinearProbe(train_x.shape[1], num_classes, recipe.lr, recipe.weight_decay, mean, std)
        generator = torch.Generator().manual_seed(recipe.seed)  # RandomSampler draws on the CPU
        train = feature_loader(train_x, train_y, recipe.batch_size, generator)
        test = feature_loader(test_x, test_y, max(recipe.batch_size, 8192))
        with quiet_trainer():
            trainer = L.Trainer(
                accelerator=accelerator,
                devices=1,
                max_epochs=recipe.epochs,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                limit_val_batches=0,
            )
            trainer.fit(probe, train_dataloaders=train)
            result = trainer.test(probe, dataloaders=test, verbose=False)
    return float(result[0]["probe/test_top1"])
