"""MoCo v2 (Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning") on the shared parts:
MoCo's momentum encoder and queue (He et al. 2020) with SimCLR's MLP head and augmentations."""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.losses.gather import all_gather_no_grad
from simclr.losses.moco import info_nce_with_queue
from simclr.losses.nt_xent import contrastive_stats
from simclr.losses.temperature import MAX_TEMPERATURE, check_temperature
from simclr.methods.base import OptimizerCallable, ViewMethod
from simclr.methods.momentum import check_momentum, ema_update_, momentum_copy
from simclr.methods.shuffle_bn import shuffle_across_ranks, unshuffle_across_ranks
from simclr.models.head import ProjectionHead
from simclr.models.key_queue import KeyQueue
from simclr.safety.lightning_internals import attached_trainer


class MoCo(ViewMethod):
    """MoCo v2: queries from the online encoder + head, keys from their momentum copy, a queue of K past keys
    as the negatives.

    Per step (Algorithm 1): q = g_q(f_q(x_q)); k = g_k(f_k(x_k)) without gradient; InfoNCE of q against
    [k, queue]; after the optimiser step "f_k.params = m * f_k.params + (1 - m) * f_q.params"; enqueue the
    keys of every rank (gathered), dequeue the oldest.

    BatchNorm under DDP: the key encoder runs on a batch shuffled across ranks ("Shuffling BN", section 3.3,
    `simclr.methods.shuffle_bn`), so a key's BN statistics come from other images than its query's. On one
    device nothing is shuffled.

    Args:
        encoder: f_q(.), images -> h; must expose `feature_dim`. f_k is its momentum copy.
        augment: uint8 (B, C, H, W) -> 2 float views (x_q, x_k), e.g. `augmentations.MultiView` (n_views 2).
        head: builds g_q(.) from feature_dim; default ProjectionHead(in_dim) (MoCo v2's 2-layer MLP head).
            Must expose `out_dim` (the key size).
        temperature: t of the InfoNCE loss (MoCo v2: 0.2).
        queue_size: K, the number of negative keys (65536 on ImageNet; at least the global batch).
        momentum: m of the key encoder's update (0.999 in the paper; 0.99 suits short runs).
        optimizer: builds the optimizer from parameter groups of the online network (default LARS(lr=0.3);
            the paper uses SGD lr 0.03 x B/256, momentum 0.9, weight decay 1e-4).
        warmup_epochs: epochs of linear warmup before the cosine decay (MoCo v2 uses the cosine schedule).
        channels_last: run both encoders in NHWC memory format.
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: nn.Module,
        head: Callable[[int], nn.Module] | None = None,
        temperature: float = 0.2,
        queue_size: int = 4096,
        momentum: float = 0.99,
        optimizer: OptimizerCallable | None = None,
        warmup_epochs: float = 10.0,
        channels_last: bool = False,
    ):
        super().__init__(encoder, augment, optimizer, warmup_epochs, channels_last)
        check_temperature(
            temperature, "MoCo", "set model.init_args.temperature to 0.2 as MoCo v2 does", MAX_TEMPERATURE
        )
        check_momentum(momentum, "MoCo momentum", 0.999)
        self.head = (head or ProjectionHead)(encoder.feature_dim)
        if not hasattr(self.head, "out_dim"):
            raise UserError(f"MoCo head {type(self.head).__name__} has no out_dim; use simclr.models.ProjectionHead")
        self.temperature = temperature
        self.momentum = momentum
        self.key_encoder = momentum_copy(self.encoder)
        self.key_head = momentum_copy(self.head)
        self.queue = KeyQueue(queue_size, self.head.out_dim)
        self._ema_step = -1  # the optimiser step the key network last followed
        self.save_config()

    @torch.no_grad()
    def keys(self, x_k: Tensor) -> Tensor:
        """k = g_k(f_k(x_k)) with BN shuffled across ranks: (N, C, H, W) -> (N, out_dim)."""
        if self.channels_last:
            x_k = x_k.contiguous(memory_format=torch.channels_last)
        shuffled, unshuffle = shuffle_across_ranks(x_k)
        return unshuffle_across_ranks(self.key_head(self.key_encoder(shuffled)), unshuffle)

    def step(self, views: list[Tensor], labels: Tensor | None, stage: str) -> tuple[Tensor, Tensor]:
        """InfoNCE of the queries of view 1 against the keys of view 2 and the queue -> (loss, h of view 1)."""
        if len(views) != 2:
            raise UserError(f"MoCo takes 2 views (query, key), got {len(views)}; set augment n_views: 2")
        x_q, x_k = views
        if self.channels_last:
            x_q = x_q.contiguous(memory_format=torch.channels_last)
        h = self.encoder(x_q)  # (N, feature_dim)
        q = self.head(h)  # (N, out_dim)
        k = self.keys(x_k)  # (N, out_dim), no gradient
        negatives = self.queue.keys.clone()  # (K, D): the loss's backward needs them after the push below
        loss = info_nce_with_queue(q, k, negatives, self.temperature)
        if stage == "train":
            self.queue.push(nn.functional.normalize(all_gather_no_grad(k.float()), dim=1))  # keys of every rank
        self.log_step(stage, loss, x_q.shape[0], contrastive_stats(q.detach(), k))
        return loss, h

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After each optimiser step: the key network follows the query network by momentum."""
        step = attached_trainer(self).global_step
        if step != self._ema_step:
            ema_update_(self.key_encoder, self.encoder, self.momentum)
            ema_update_(self.key_head, self.head, self.momentum)
            self._ema_step = step
