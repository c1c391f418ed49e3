"""The SimCLR LightningModule: views -> encoder -> h -> head -> z -> loss."""

import math
from collections.abc import Callable, Iterable

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from simclr.errors import UserError
from simclr.losses.nt_xent import NTXentLoss, contrastive_stats
from simclr.models.head import ProjectionHead
from simclr.training.checkpoints import check_compatible
from simclr.training.fit_checks import check_fit_inputs
from simclr.training.lars import LARS
from simclr.training.lightning_internals import attached_trainer, given_hyperparameters
from simclr.training.optim import param_groups, warmup_cosine
from simclr.training.rng import AugmentationRNG

OptimizerCallable = Callable[[Iterable], Optimizer]


class SimCLR(L.LightningModule):
    """SimCLR pretraining (Chen et al. 2020).

    Batches arrive as (uint8 images (B, C, H, W), labels) and are augmented on the device in
    `on_after_batch_transfer`, so DataLoader workers never touch floats. Labels reach the loss only for
    supervised losses (`simclr.losses.supcon.SupConLoss`); the self-supervised losses ignore them.

    Args:
        encoder: f(.), images -> h; must expose `feature_dim`.
        augment: uint8 (B, C, H, W) -> list of V float views, e.g. `augmentations.MultiView`.
        head: builds g(.) from the encoder's feature_dim, e.g. `simclr.models.head.ProjectionHead` with its
            other arguments in the config (`in_dim` is filled in here); defaults to ProjectionHead(in_dim).
        loss: called as `loss(z_1, ..., z_V, labels=labels)` with the V views' (B, out_dim) projections
            -> scalar, e.g. `NTXentLoss`, `simclr.losses.sigmoid.SigmoidLoss`, `simclr.losses.supcon.SupConLoss`;
            its parameters (a learnt temperature) are trained with the model. Default `NTXentLoss(0.5)`.
        optimizer: builds the optimizer from parameter groups; defaults to LARS(lr=0.3 x B/256 is the
            paper's rule; here lr=0.3). Biases and norm parameters go in a group without weight decay.
        warmup_epochs: epochs of linear warmup before the cosine decay (the paper: 10).
        channels_last: run the encoder in NHWC memory format (views are converted after augmentation).
            Faster for convolutions on recent GPUs with bf16 and on CPUs (oneDNN); see docs/speed.md.
        compile: compile the encoder and the head with `torch.compile` (in place, `nn.Module.compile`, so
            state_dict keys and checkpoints are unchanged). The first steps are slow while it compiles;
            needs a C++ compiler on CPU and Triton on GPU (both come with Linux torch wheels). Off by default.
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: nn.Module,
        head: Callable[[int], nn.Module] | None = None,
        loss: nn.Module | None = None,
        optimizer: OptimizerCallable | None = None,
        warmup_epochs: float = 10.0,
        channels_last: bool = False,
        compile: bool = False,
    ):
        super().__init__()
        if warmup_epochs < 0:
            raise UserError(f"SimCLR warmup_epochs must be >= 0, got {warmup_epochs}; the paper warms up for 10 epochs")
        # Under LightningCLI the hparams are the YAML config (class_path/init_args), so
        # `SimCLR.load_from_checkpoint(path)` rebuilds every part; from plain Python the parts are objects
        # (maybe lambdas) that must not be pickled into the checkpoint, so only scalars are kept.
        built_by_cli = given_hyperparameters() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else ["encoder", "augment", "head", "loss", "optimizer"])
        self.encoder = encoder
        self.head = (head or ProjectionHead)(encoder.feature_dim)
        self.augment = augment
        self.loss = loss if loss is not None else NTXentLoss(temperature=0.5)
        self.optimizer_factory = optimizer if optimizer is not None else (lambda params: LARS(params, lr=0.3))
        self.warmup_epochs = warmup_epochs
        self.channels_last = channels_last
        if channels_last:
            self.encoder.to(memory_format=torch.channels_last)
        self.augment_rng = (
            AugmentationRNG()
        )  # the training augmentations' own stream, checkpointed (simclr.training.rng)
        self.build_optimizer()  # options checked now, before a trainer or logger exists (its state is lazy)
        if compile:
            self.encoder.compile()
            self.head.compile()

    def forward(self, images: Tensor) -> Tensor:
        """Normalised float images (B, C, H, W) -> h (B, feature_dim)."""
        return self.encoder(images)

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

    def _shared_step(self, views: list[Tensor], stage: str, labels: Tensor | None = None) -> dict[str, Tensor]:
        n = views[0].shape[0]
        x = torch.cat(views)  # (V*B, C, H, W)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.encoder(x)  # (V*B, feature_dim): one pass keeps BN statistics over all views
        z = self.head(h).unflatten(0, (len(views), n))  # (V, B, out_dim)
        loss = self.loss(*z, labels=labels)  # every view; labels for supervised losses, ignored by the others
        stats = contrastive_stats(z[0].detach(), z[1].detach()) if len(views) > 1 else {}
        on_step = stage == "train"
        # Step-level values stay off the progress bar: Lightning converts progress-bar values to Python
        # floats after every batch (a host sync per step on the GPU); the logger reads them only every
        # `log_every_n_steps`. The validation loss (epoch-level) is on the bar.
        self.log(
            f"{stage}/loss",
            loss,
            prog_bar=not on_step,
            on_step=on_step,
            on_epoch=not on_step,
            batch_size=n,
            sync_dist=not on_step,
        )
        for name, value in stats.items():
            self.log(
                f"{stage}/{name}", value, on_step=on_step, on_epoch=not on_step, batch_size=n, sync_dist=not on_step
            )
        # h of the first view, detached, for callbacks such as the online linear probe
        return {"loss": loss, "h": h[:n].detach()}

    def training_step(self, batch: tuple[list[Tensor], Tensor], batch_idx: int) -> dict[str, Tensor]:
        views, labels = batch
        return self._shared_step(views, "train", labels)

    def validation_step(self, batch: tuple[list[Tensor], Tensor], batch_idx: int) -> dict[str, Tensor]:
        views, labels = batch
        return self._shared_step(views, "val", labels)

    def build_optimizer(self) -> Optimizer:
        """The optimizer over this module's parameter groups; a one-line UserError for options it rejects."""
        try:
            return self.optimizer_factory(param_groups(self))
        except (ValueError, TypeError) as e:  # torch's optimizers check their options when built
            raise UserError(f"the optimizer rejected its options ({e}); fix model.optimizer.init_args") from e

    def configure_optimizers(self):
        optimizer = self.build_optimizer()
        total = max(1, int(self.trainer.estimated_stepping_batches))  # sets up the train loader, so its length is known
        batches = self.trainer.num_training_batches  # per epoch (inf for a loader without a length)
        steps_per_epoch = math.ceil(batches / self.trainer.accumulate_grad_batches) if math.isfinite(batches) else total
        warmup = min(int(self.warmup_epochs * steps_per_epoch), total // 2)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, total, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
