"""The SimCLR LightningModule: views -> encoder -> h -> head -> z -> loss."""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.losses.nt_xent import NTXentLoss, contrastive_stats
from simclr.methods.base import OptimizerCallable, ViewMethod, encode_views
from simclr.models.head import ProjectionHead
from simclr.training.grad_cache import cached_embeddings


class SimCLR(ViewMethod):
    """SimCLR pretraining (Chen et al. 2020).

    Batches arrive as (uint8 images (B, C, H, W), labels) and are augmented on the device in
    `on_after_batch_transfer`, so DataLoader workers never touch floats. Labels reach the loss only for
    supervised losses (`simclr.losses.supcon.SupConLoss`); the self-supervised losses ignore them.

    Args:
        encoder: f(.), images -> h; must expose `feature_dim`.
        augment: uint8 (B, C, H, W) -> list of V float views, e.g. `augmentations.MultiView`, image patches
            (`augmentations.patches.PatchViews`) or multi-crop (`augmentations.multicrop.MultiCrop`, views of
            each size go through the encoder in one call).
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
        chunk_size: gradient caching (`simclr.training.grad_cache`): the batch is embedded in chunks of this many
            images, so the activation memory is one chunk's whatever the batch, and the loss still sees every
            pair of the whole batch (the exact full-batch gradient, at about 1.3x the compute). BatchNorm then
            normalises each chunk with its own statistics, like per-device BatchNorm; networks without batch
            statistics (`ResNetEncoder(norm="group")`, a ViT) get exactly the full-batch gradient. Off (None) by
            default; validation runs in chunks too. The loss's (V B) x (V B) similarities still grow with the
            square of the batch: set the loss's `anchor_chunk` too (e.g. 1024) to score them in blocks of rows.
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
        chunk_size: int | None = None,
    ):
        super().__init__(encoder, augment, optimizer, warmup_epochs, channels_last)
        if chunk_size is not None and chunk_size < 1:
            raise UserError(f"SimCLR chunk_size is {chunk_size}; pass images per chunk (e.g. 256), or null for none")
        self.chunk_size = chunk_size
        self.head = (head or ProjectionHead)(encoder.feature_dim)
        self.loss = loss if loss is not None else NTXentLoss(temperature=0.5)
        self.save_config()
        if compile:
            self.encoder.compile()
            self.head.compile()

    def step(self, views: list[Tensor], labels: Tensor | None, stage: str) -> tuple[Tensor, Tensor]:
        """Algorithm 1: "z = g(f(x)) for every view; loss over all positive pairs" -> (loss, h of view 1)."""
        out = self._shared_step(views, stage, labels)
        return out["loss"], out["h"]

    def embed(self, views: list[Tensor], images: slice, first_h: list[Tensor] | None = None) -> Tensor:
        """z (V, b, out_dim) of the views of `images`; h of their first view goes to `first_h` when given."""
        part = [v[images] for v in views]
        h = encode_views(self.encoder, part, self.channels_last)  # (V*b, feature_dim): BN over all views of a size
        if first_h is not None:
            first_h.append(h[: part[0].shape[0]].detach())
        return self.head(h).unflatten(0, (len(views), part[0].shape[0]))

    def _shared_step(self, views: list[Tensor], stage: str, labels: Tensor | None = None) -> dict[str, Tensor]:
        n = views[0].shape[0]
        first_h: list[Tensor] = []
        if self.chunk_size is None or self.chunk_size >= n:
            z = self.embed(views, slice(0, n), first_h)  # (V, B, out_dim)
        elif torch.is_grad_enabled():  # the exact full-batch gradient at one chunk's activation memory
            z = cached_embeddings(lambda images: self.embed(views, images, None if torch.is_grad_enabled() else first_h),
                                  n, self.chunk_size, [self.encoder, self.head], views[0].device, dim=1)  # fmt: skip
        else:
            z = torch.cat(
                [self.embed(views, slice(i, i + self.chunk_size), first_h) for i in range(0, n, self.chunk_size)], 1
            )
        loss = self.loss(*z, labels=labels)  # every view; labels for supervised losses, ignored by the others
        stats = contrastive_stats(z[0].detach(), z[1].detach()) if len(views) > 1 else {}
        self.log_step(stage, loss, n, stats)
        return {"loss": loss, "h": torch.cat(first_h)}
