"""Fine-tuning with few labels (SimCLR section 6, Table 7 and Table B.4; SimCLR v2 section 2): the whole network trains.

The network is the pretrained encoder, the first `layers` layers of the projection head (SimCLR v2:
"fine-tuning from the middle layer of the projection head"; 0 layers is fine-tuning from h, as in
SimCLR v1), and a new linear classifier. Unlike the frozen probe, every weight is updated.

LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution":
"first train a linear probe, then fine-tune the entire model") starts the classifier from a probe fitted on
the frozen features (`init_classifier`; `simclr.finetuning.recipe` fits it), trains the pretrained layers at
`encoder_lr_ratio` times the classifier's learning rate, and can keep BatchNorm's pretrained statistics
(`bn="frozen"`), so the first steps continue from what the frozen features already give.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics.classification import MulticlassAccuracy

from simclr.errors import UserError
from simclr.models.head import ProjectionHead
from simclr.safety.lightning_internals import attached_trainer, given_hyperparameters
from simclr.safety.rng import AugmentationRNG
from simclr.training.optim import param_groups, warmup_cosine

OptimizerCallable = Callable[[Iterable], Optimizer]


def layers_up_to(name: str, available: list[str]) -> int:
    """How many head layers feed the classifier when fine-tuning from `name`: "h" -> 0, "head_i" -> i, "z" -> L.

    Args:
        name: a representation, as `--from` names it.
        available: the model's representations in order, `simclr.eval.features.representation_names(head)`.
    """
    if name not in available:
        raise UserError(
            f"--from {name} names a layer the projection head lacks (it has {', '.join(available)}); pass one of those"
        )
    return available.index(name)


class FineTuner(L.LightningModule):
    """Encoder -> head layers -> linear classifier, all trained with cross-entropy on labelled images.

    Batches arrive as (uint8 images (B, C, H, W), labels (B,)); in training they are augmented on the
    device (`augment`, e.g. crop + flip) in `on_after_batch_transfer`, drawing from the checkpointed stream
    `augment_rng` (simclr.safety.rng), otherwise only normalised.

    Args:
        encoder: f(.), images -> h; must expose `feature_dim`.
        num_classes: K, outputs of the classifier.
        augment: float view of a uint8 batch with a `normalise` method, e.g. `augmentations.ViewPipeline`
            with RandomResizedCrop and RandomHorizontalFlip.
        head: builds the projection head from the encoder's feature_dim (as in SimCLR); default ProjectionHead.
        layers: how many of the head's layers to keep under the classifier (0 = fine-tune from h).
        optimizer: builds the optimizer from parameter groups; default SGD(lr=0.05, momentum=0.9, nesterov).
        warmup_fraction: share of the steps spent in linear warmup before the cosine decay.
        channels_last: run the encoder in NHWC memory format (as the pretraining run did).
        encoder_lr_ratio: the learning rate of the encoder and head layers as a multiple of the classifier's
            (the optimizer's lr); 1 trains every layer alike.
        bn: "train": BatchNorm layers normalise with batch statistics and update their running ones;
            "frozen": in training too they normalise with the running statistics and never update them
            (their scale and shift still train).
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        augment: nn.Module,
        head: Callable[[int], nn.Module] | None = None,
        layers: int = 0,
        optimizer: OptimizerCallable | None = None,
        warmup_fraction: float = 0.0,
        channels_last: bool = False,
        encoder_lr_ratio: float = 1.0,
        bn: Literal["train", "frozen"] = "train",
    ):
        super().__init__()
        if num_classes < 2:
            raise UserError(f"FineTuner num_classes is {num_classes}; a classifier needs at least 2 classes")
        if not 0 <= warmup_fraction < 1:
            raise UserError(f"FineTuner warmup_fraction is {warmup_fraction}; pass a value in [0, 1)")
        check_lp_ft_options(encoder_lr_ratio, bn)
        if not isinstance(getattr(encoder, "feature_dim", None), int):
            raise UserError(
                f"the encoder {type(encoder).__name__} has no feature_dim (the size of h the classifier reads); use "
                f"an encoder that sets one, e.g. simclr.models.ResNetEncoder"
            )
        built_by_cli = given_hyperparameters() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else ["encoder", "augment", "head", "optimizer"])
        full_head = (head or ProjectionHead)(encoder.feature_dim)
        head_layers = list(getattr(full_head, "layers", []))
        if not 0 <= layers <= len(head_layers):
            raise UserError(
                f"FineTuner layers is {layers}, but the head has {len(head_layers)}; pass 0..{len(head_layers)}"
            )
        self.encoder = encoder
        self.from_layer = "h" if layers == 0 else "z" if layers == len(head_layers) else f"head_{layers}"
        self.head = nn.Sequential(*head_layers[:layers])  # (B, feature_dim) -> (B, dims[layers - 1])
        in_dim = full_head.dims[layers - 1] if layers else encoder.feature_dim
        self.classifier = nn.Linear(in_dim, num_classes)
        self.augment = augment
        self.num_classes = num_classes
        self.optimizer_factory = optimizer or (
            lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)
        )
        self.warmup_fraction = warmup_fraction
        self.channels_last = channels_last
        self.encoder_lr_ratio = encoder_lr_ratio
        self.bn = bn
        if channels_last:
            self.encoder.to(memory_format=torch.channels_last)
        self.test_top1 = MulticlassAccuracy(num_classes, average="micro")
        self.augment_rng = AugmentationRNG()  # the training augmentations' own stream, checkpointed

    def load_pretrained_parts(self, encoder: nn.Module, head_layers: Iterable[nn.Module]) -> None:
        """Copies the pretrained encoder and the first head layers (a ProjectionHead's `layers`) into this network."""
        self.encoder.load_state_dict(encoder.state_dict())
        for mine, theirs in zip(self.head, head_layers):
            mine.load_state_dict(theirs.state_dict())

    @torch.no_grad()
    def init_classifier(self, layer: nn.Linear) -> None:
        """Starts the classifier from `layer` (e.g. a linear probe on the frozen features: LP-FT)."""
        if layer.weight.shape != self.classifier.weight.shape:
            raise UserError(
                f"the classifier takes {self.classifier.in_features} features to {self.num_classes} classes, but "
                f"the layer given takes {layer.in_features} to {layer.out_features}; fit it on the same layer"
            )
        self.classifier.weight.copy_(layer.weight)
        self.classifier.bias.copy_(layer.bias)

    def train(self, mode: bool = True) -> FineTuner:
        """Train mode; with bn="frozen" the BatchNorm layers of the encoder and head stay in eval mode."""
        super().train(mode)
        if mode and self.bn == "frozen":
            for m in (*self.encoder.modules(), *self.head.modules()):
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def on_train_start(self) -> None:
        """Fits in train mode with BatchNorm as `bn` says (Lightning fits a module in the mode it was handed over
        in, and calls this after its check that every module trains)."""
        self.train()

    def features(self, x: Tensor) -> Tensor:
        """Normalised images (B, C, H, W) -> the classifier's input (B, D): h or a head layer's output."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        """Normalised images (B, C, H, W) -> logits (B, K)."""
        return self.classifier(self.features(x))

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        """uint8 images on the device -> an augmented view in training, the normalised images otherwise."""
        images, labels = batch
        trainer = attached_trainer(self)
        if trainer is not None and trainer.training:
            with self.augment_rng.draw(images.device, rank=trainer.global_rank):  # same draws after a resume
                return self.augment(images), labels
        return self.augment.normalise(images), labels

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["augment_rng"] = self.augment_rng.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "augment_rng" in checkpoint:
            self.augment_rng.load_state_dict(checkpoint["augment_rng"])

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=False, batch_size=len(y))
        return loss

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        self.test_top1.update(self(x), y)
        self.log("test/top1", self.test_top1, on_step=False, on_epoch=True, batch_size=len(y))

    def build_optimizer(self) -> Optimizer:
        """The optimizer over this module's parameter groups, the encoder's and head's at `encoder_lr_ratio` times
        the classifier's learning rate; a one-line UserError for options it rejects."""
        body = param_groups(nn.ModuleList([self.encoder, self.head]))
        groups = [{**g, "lr_ratio": self.encoder_lr_ratio} for g in body] + param_groups(self.classifier)
        try:
            optimizer = self.optimizer_factory([g for g in groups if g["params"]])
        except (ValueError, TypeError) as e:
            raise UserError(f"the fine-tuning optimizer rejected its options ({e}); fix --lr") from e
        for group in optimizer.param_groups:
            group["lr"] *= group.get("lr_ratio", 1.0)
        return optimizer

    def configure_optimizers(self):
        return with_cosine_schedule(
            self.build_optimizer(), int(self.trainer.estimated_stepping_batches), self.warmup_fraction
        )


def check_lp_ft_options(encoder_lr_ratio: float, bn: str) -> None:
    """One-line UserErrors for an encoder learning-rate ratio or BatchNorm mode no run can use."""
    if not encoder_lr_ratio > 0:
        raise UserError(f"--encoder_lr_ratio is {encoder_lr_ratio}; pass a positive ratio, e.g. 0.1")
    if bn not in ("train", "frozen"):
        raise UserError(f"--bn is {bn!r}; pass train or frozen")


def with_cosine_schedule(optimizer: Optimizer, total_steps: int, warmup_fraction: float) -> dict:
    """Lightning's optimizer config: `optimizer` with linear warmup over warmup_fraction of the steps, then
    a cosine decay to zero at `total_steps`, stepped every optimizer step."""
    total = max(1, total_steps)
    warmup = math.floor(warmup_fraction * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, total, warmup))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
