"""What every method shares: device-side views, the encoder, the optimiser and its schedule, checkpoint hooks.

A method (SimCLR, MoCo, BYOL, ...) subclasses `ViewMethod` and writes only its own step, `step(views, labels,
stage) -> (loss, h of the first view)`; its constructor's type hints are its config (LightningCLI
`class_path`/`init_args`). `simclr fit` accepts any subclass as `model.class_path`; a config without one means
SimCLR.
"""

import inspect
import math
from collections.abc import Callable, Iterable

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from simclr.errors import UserError
from simclr.safety.checkpoint_files import check_compatible
from simclr.safety.fit_checks import check_fit_inputs
from simclr.safety.lightning_internals import attached_trainer, given_hyperparameters
from simclr.safety.rng import AugmentationRNG
from simclr.training.lars import LARS
from simclr.training.optim import param_groups, warmup_cosine

OptimizerCallable = Callable[[Iterable], Optimizer]
PARTS = ("encoder", "augment", "head", "predictor", "loss", "optimizer")  # objects, not kept as plain-Python hparams


def encode_views(encoder: nn.Module, views: list[Tensor], channels_last: bool = False) -> Tensor:
    """h of every view, one encoder call per run of same-size views (multi-crop: globals, then locals).

    DINO's implementation: "we batch together inputs of the same resolution"; BatchNorm then sees the
    statistics of one resolution per call.

    Args:
        encoder: float (B', C, H, W) -> (B', feature_dim).
        views: V tensors (B, C, H_v, W_v); views of one size must be consecutive to share a call.
        channels_last: feed the encoder NHWC tensors.

    Returns:
        (V * B, feature_dim), view-major (rows [v B, (v + 1) B) are view v).
    """
    groups: list[list[Tensor]] = []
    for view in views:
        if groups and groups[-1][0].shape[1:] == view.shape[1:]:
            groups[-1].append(view)
        else:
            groups.append([view])
    hs = []
    for group in groups:
        x = torch.cat(group)  # (V_g * B, C, H_g, W_g)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        hs.append(encoder(x))
    return torch.cat(hs)


def global_view_count(views: list[Tensor]) -> int:
    """How many leading views have the first view's size (multi-crop's global views; all views otherwise)."""
    count = 0
    while count < len(views) and views[count].shape[1:] == views[0].shape[1:]:
        count += 1
    return count


class ViewMethod(L.LightningModule):
    """Base of the self-supervised methods: uint8 batch -> views on the device -> `step` -> loss.

    Batches arrive as (uint8 images (B, C, H, W), labels) and are augmented on the device in
    `on_after_batch_transfer` with a checkpointed random stream, so a resume draws the same views.
    Subclasses call `save_config()` after building their parts and implement `step`.

    Args:
        encoder: f(.), images -> h; must expose `feature_dim`.
        augment: uint8 (B, C, H, W) -> list of V float views, with a `normalise` method for evaluation.
        optimizer: builds the optimizer from parameter groups; default LARS(lr=0.3). Only parameters with
            `requires_grad` are optimised (a momentum target is not).
        warmup_epochs: epochs of linear warmup before the cosine decay.
        channels_last: run the encoder in NHWC memory format.
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: nn.Module,
        optimizer: OptimizerCallable | None = None,
        warmup_epochs: float = 10.0,
        channels_last: bool = False,
    ):
        super().__init__()
        name = type(self).__name__
        if not (warmup_epochs >= 0 and math.isfinite(warmup_epochs)):  # NaN fails both comparisons
            raise UserError(
                f"{name} warmup_epochs must be >= 0 and finite, got {warmup_epochs}; the paper warms up for 10 epochs"
            )
        if not hasattr(encoder, "feature_dim"):
            raise UserError(
                f"{name} encoder {type(encoder).__name__} has no feature_dim; use simclr.models.ResNetEncoder"
            )
        self.encoder = encoder
        self.augment = augment
        self.optimizer_factory = optimizer if optimizer is not None else (lambda params: LARS(params, lr=0.3))
        self.warmup_epochs = warmup_epochs
        self.channels_last = channels_last
        if channels_last:
            self.encoder.to(memory_format=torch.channels_last)
        self.augment_rng = AugmentationRNG()  # the training augmentations' own stream, checkpointed

    def save_config(self, frame=None) -> None:
        """Save the constructor's arguments as hparams: the whole YAML config under LightningCLI (so
        `load_from_checkpoint` rebuilds every part), only the scalars from plain Python (parts may be lambdas)."""
        frame = frame or inspect.currentframe().f_back
        built_by_cli = given_hyperparameters() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else list(PARTS), frame=frame)
        self.build_optimizer()  # options checked now, before a trainer or logger exists

    def forward(self, images: Tensor) -> Tensor:
        """Normalised float images (B, C, H, W) -> h (B, feature_dim)."""
        return self.encoder(images)

    def step(self, views: list[Tensor], labels: Tensor | None, stage: str) -> tuple[Tensor, Tensor]:
        """The method's own work: V views (B, C, H_v, W_v) -> (scalar loss, h of the first view (B, feature_dim))."""
        raise NotImplementedError

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[list[Tensor], Tensor]:
        """uint8 images on the device -> V augmented float views (batched on the device)."""
        images, labels = batch
        trainer = attached_trainer(self)
        if trainer is not None and trainer.training:
            with self.augment_rng.draw(images.device, rank=trainer.global_rank):  # same draws after a resume
                return self.augment(images), labels
        if trainer is not None and (trainer.validating or trainer.sanity_checking):
            return self.augment(images), labels
        return batch

    def setup(self, stage: str) -> None:
        """Before fitting: one-line errors for data that does not fit the model (channels, batch size)."""
        datamodule = getattr(attached_trainer(self), "datamodule", None)
        if stage == "fit" and datamodule is not None:
            check_fit_inputs(self.encoder, self.augment, datamodule)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["augment_rng"] = self.augment_rng.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A one-line error for a checkpoint of another architecture; restores the augmentation stream."""
        check_compatible(
            self, checkpoint, getattr(attached_trainer(self), "ckpt_path", None), strict=self.strict_loading
        )
        if "augment_rng" in checkpoint:
            self.augment_rng.load_state_dict(checkpoint["augment_rng"])

    def log_step(self, stage: str, loss: Tensor, n: int, stats: dict[str, Tensor] | None = None) -> None:
        """Log the loss and `stats` (device tensors): per step while training (off the progress bar, which would
        sync the host every batch), per epoch and synced across ranks otherwise."""
        on_step = stage == "train"
        values = {"loss": loss, **(stats or {})}
        for name, value in values.items():
            self.log(
                f"{stage}/{name}",
                value,
                prog_bar=name == "loss" and not on_step,
                on_step=on_step,
                on_epoch=not on_step,
                batch_size=n,
                sync_dist=not on_step,
            )

    def training_step(self, batch: tuple[list[Tensor], Tensor], batch_idx: int) -> dict[str, Tensor]:
        views, labels = batch
        loss, h = self.step(views, labels, "train")
        return {"loss": loss, "h": h.detach()}  # h for callbacks such as the online linear probe

    def validation_step(self, batch: tuple[list[Tensor], Tensor], batch_idx: int) -> dict[str, Tensor]:
        views, labels = batch
        loss, h = self.step(views, labels, "val")
        return {"loss": loss, "h": h.detach()}

    def build_optimizer(self) -> Optimizer:
        """The optimizer over this module's trainable parameter groups; a one-line UserError for options it rejects."""
        try:
            optimizer = self.optimizer_factory(param_groups(self))
        except (ValueError, TypeError) as e:  # torch's optimizers check their options when built
            raise UserError(f"the optimizer rejected its options ({e}); fix model.optimizer.init_args") from e
        for group in optimizer.param_groups:
            lr = float(group.get("lr", 1.0))
            if not (lr > 0 and math.isfinite(lr)):  # torch accepts 0 and NaN: a run that never moves
                effect = "the weights would never change" if lr == 0 else "training cannot work"
                raise UserError(
                    f"model.optimizer.init_args.lr is {lr}, so {effect}; set a finite learning rate > 0 "
                    f"(SimCLR: LARS 0.3 x batch size / 256)"
                )
        return optimizer

    def total_steps(self) -> int:
        """Optimiser steps of the whole run (the schedules' K), at least 1."""
        return max(1, int(self.trainer.estimated_stepping_batches))

    def configure_optimizers(self):
        optimizer = self.build_optimizer()
        total = self.total_steps()  # sets up the train loader, so its length is known
        batches = self.trainer.num_training_batches  # per epoch (inf for a loader without a length)
        steps_per_epoch = math.ceil(batches / self.trainer.accumulate_grad_batches) if math.isfinite(batches) else total
        warmup = min(int(self.warmup_epochs * steps_per_epoch), total // 2)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, total, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
