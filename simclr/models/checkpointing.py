"""Activation checkpointing for the encoders: a block's activations are recomputed in the backward pass instead
of kept (`torch.utils.checkpoint`, non-reentrant), trading about one more forward pass for the memory of one
block's activations per block.

`checkpoint_sequential_blocks` turns an `nn.Sequential` of blocks (a ResNet stage, a ViT's encoder layers)
into a `CheckpointedSequential`: the same children under the same names, so state_dicts and checkpoints do not
change, and a copy (a momentum encoder) is checkpointed too. The recomputation replays the random state
(dropout, drop-path), and runs BatchNorm with momentum 0 so its running statistics are updated once per step,
not twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


@contextmanager
def frozen_batch_norm_statistics(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of `module` normalise as in training but leave their running statistics unchanged."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None) for m in layers]
    try:
        for m in layers:
            m.momentum = 0.0
        yield
    finally:
        for m, (momentum, tracked) in zip(layers, saved):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


class CheckpointedSequential(nn.Sequential):
    """An `nn.Sequential` whose children each run under activation checkpointing while gradients are on."""

    def forward(self, x: Tensor) -> Tensor:
        for block in self:
            if torch.is_grad_enabled() and self.training:
                x = checkpoint(
                    block,
                    x,
                    use_reentrant=False,
                    context_fn=lambda block=block: (nullcontext(), frozen_batch_norm_statistics(block)),
                )
            else:
                x = block(x)
        return x


def checkpoint_sequential_blocks(sequential: nn.Module) -> None:
    """Makes `sequential` (an `nn.Sequential`) checkpoint each of its children, in place."""
    if not isinstance(sequential, nn.Sequential):
        raise TypeError(f"expected an nn.Sequential of blocks, got {type(sequential).__name__}")
    sequential.__class__ = CheckpointedSequential
