"""BYOL, Bootstrap Your Own Latent (Grill et al. 2020), on the shared parts: an online network (encoder,
projector, predictor) regresses the projections of a slowly moving target network; no negatives."""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from simclr.errors import UserError, short_reason
from simclr.losses.byol import byol_loss
from simclr.methods.base import OptimizerCallable, ViewMethod, encode_views, global_view_count
from simclr.methods.momentum import check_momentum, cosine_momentum, ema_update_, momentum_copy
from simclr.models.head import ProjectionHead
from simclr.safety.lightning_internals import attached_trainer


def output_size(module: nn.Module, in_dim: int) -> int:
    """Features `module` maps (B, in_dim) to: its `out_dim`, else one no-grad forward in eval mode."""
    if isinstance(getattr(module, "out_dim", None), int):
        return module.out_dim
    training = module.training
    try:
        with torch.no_grad():
            return int(module.eval()(torch.zeros(2, in_dim)).shape[-1])
    finally:
        module.train(training)


def check_predictor(predictor: nn.Module, projector_dim: int) -> None:
    """UserError unless q_theta maps the projector's out_dim back to it: p regresses the target's z'."""
    try:
        predicted = output_size(predictor, projector_dim)
    except RuntimeError as e:
        raise UserError(
            f"BYOL predictor {type(predictor).__name__} cannot take the projector's {projector_dim} features ({short_reason(e)}); "
            f"leave its in_dim to BYOL (filled from model.head.init_args.out_dim)"
        ) from e
    if predicted != projector_dim:
        raise UserError(
            f"BYOL predictor out_dim is {predicted} but the projector's (model.head) out_dim is {projector_dim}; the "
            f"prediction regresses the target projection, so set model.predictor.init_args.out_dim: {projector_dim}"
        )


class BYOL(ViewMethod):
    """BYOL: "the online network predicts the target network's representation of the same image under a
    different augmented view"; the target is "an exponential moving average of the online parameters".

    Per step: y = f_theta(v), z = g_theta(y), p = q_theta(z) for every view; z' = g_xi(f_xi(v')) for the
    global views without gradient; loss = mean over pairs of different views of 2 - 2 cos(p, z'); after the
    optimiser step "xi <- tau xi + (1 - tau) theta" with tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2.

    Args:
        encoder: f_theta(.), images -> y (h); must expose `feature_dim`. f_xi is its momentum copy.
        augment: uint8 (B, C, H, W) -> V >= 2 float views, e.g. `augmentations.MultiView` or
            `augmentations.multicrop.MultiCrop` (the target sees the views of the first view's size).
        head: builds the projector g_theta(.) from feature_dim; default ProjectionHead(in_dim) (the paper:
            Linear 4096 - BN - ReLU - Linear 256). Must expose `out_dim`.
        predictor: builds q_theta(.) from the projector's out_dim; default ProjectionHead (same MLP shape).
        base_momentum: tau_base (0.996 in the paper, 0.99 for short runs).
        optimizer: builds the optimizer from the online network's parameter groups (default LARS(lr=0.3);
            the paper: LARS lr 0.2 x B/256, weight decay 1.5e-6).
        warmup_epochs: epochs of linear warmup before the cosine decay (the paper: 10).
        channels_last: run both encoders in NHWC memory format.
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: nn.Module,
        head: Callable[[int], nn.Module] | None = None,
        predictor: Callable[[int], nn.Module] | None = None,
        base_momentum: float = 0.99,
        optimizer: OptimizerCallable | None = None,
        warmup_epochs: float = 10.0,
        channels_last: bool = False,
    ):
        super().__init__(encoder, augment, optimizer, warmup_epochs, channels_last)
        check_momentum(base_momentum, "BYOL base_momentum", 0.996)
        self.head = (head or ProjectionHead)(encoder.feature_dim)
        if not hasattr(self.head, "out_dim"):
            raise UserError(f"BYOL head {type(self.head).__name__} has no out_dim; use simclr.models.ProjectionHead")
        self.predictor = (predictor or ProjectionHead)(self.head.out_dim)
        check_predictor(self.predictor, self.head.out_dim)
        self.base_momentum = base_momentum
        self.target_encoder = momentum_copy(self.encoder)
        self.target_head = momentum_copy(self.head)
        self._ema_step = -1  # the optimiser step the target last followed
        self._run_steps = 1  # K, optimiser steps of the run (set when training starts)
        self.save_config()

    def step(self, views: list[Tensor], labels: Tensor | None, stage: str) -> tuple[Tensor, Tensor]:
        """Online predictions of every view regress the target projections of the other global views."""
        if len(views) < 2:
            raise UserError(f"BYOL needs at least 2 views, got {len(views)}; set augment n_views: 2")
        n, g = views[0].shape[0], global_view_count(views)
        h = encode_views(self.encoder, views, self.channels_last)  # (V*N, feature_dim)
        p = self.predictor(self.head(h)).unflatten(0, (len(views), n))  # (V, N, out_dim)
        with torch.no_grad():
            z_target = self.target_head(encode_views(self.target_encoder, views[:g], self.channels_last))
        loss = byol_loss(p, z_target.unflatten(0, (g, n)))  # (G, N, out_dim) targets
        self.log_step(stage, loss, n)
        return loss, h[:n]

    def on_train_start(self) -> None:
        self._run_steps = self.total_steps()  # K of the schedule, read once per fit

    def current_momentum(self) -> float:
        """tau at this optimiser step (BYOL's cosine schedule over the run)."""
        return cosine_momentum(self.trainer.global_step, self._run_steps, self.base_momentum)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After each optimiser step: xi <- tau xi + (1 - tau) theta."""
        step = attached_trainer(self).global_step
        if step != self._ema_step:
            tau = self.current_momentum()
            ema_update_(self.target_encoder, self.encoder, tau)
            ema_update_(self.target_head, self.head, tau)
            self._ema_step = step
