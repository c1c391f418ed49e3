"""Gradient caching (Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited
Setup"): the exact gradient of a batch-coupled loss at the activation memory of one chunk of the batch.

A contrastive loss couples every pair of the batch, so gradient accumulation over small batches is not the
same objective. Instead:

1. embed every chunk of the batch without keeping activations (`torch.no_grad`), recording each chunk's
   random state (dropout, drop-path) and keeping BatchNorm's running statistics as they were;
2. compute the loss on all the embeddings and back-propagate it to them (the usual `loss.backward()`: the
   embeddings come out of `CachedEmbeddings`, whose backward receives their gradient);
3. re-run each chunk with activations, under the same random state and autocast, and back-propagate its
   slice of the cached gradient into the parameters (`torch.autograd.grad`, summed over chunks, handed back
   as the parameters' gradients once, so DDP's gradient hooks fire once per step as usual).

The network sees each chunk twice with the same input and random state, so the parameter gradients equal the
full-batch ones, except that BatchNorm normalises each chunk with the chunk's own statistics (as per-device
BatchNorm without synchronisation does): exact for networks without batch statistics (GroupNorm, LayerNorm,
a ViT) or with BatchNorm in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def batch_norm_buffers(module: nn.Module) -> list[Tensor]:
    """The running statistics of every BatchNorm layer of `module` (running_mean, running_var, num_batches)."""
    return [b for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for b in m.buffers()]


class RandomState:
    """The CPU and CUDA random states at one moment, to replay a forward pass's random draws."""

    def __init__(self, device: torch.device):
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        self.device = device

    @contextmanager
    def replay(self) -> Iterator[None]:
        """Runs the block from this state; the global random state is as before afterwards."""
        cuda = self.cuda is not None
        with torch.random.fork_rng(devices=[self.device] if cuda else [], device_type="cuda" if cuda else "cpu"):
            torch.set_rng_state(self.cpu)
            if cuda:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


class CachedEmbeddings(torch.autograd.Function):
    """Embeddings computed without activations whose backward re-runs each chunk (see the module docstring)."""

    @staticmethod
    def forward(ctx, embeddings: Tensor, replay: Callable[[Tensor], tuple[Tensor, ...]], *params: Tensor) -> Tensor:
        ctx.replay = replay
        return embeddings.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        grads = ctx.replay(grad)
        return (None, None, *grads)


def cached_embeddings(
    embed: Callable[[slice], Tensor],
    batch: int,
    chunk_size: int,
    modules: Sequence[nn.Module],
    device: torch.device,
    dim: int = 0,
) -> Tensor:
    """The embeddings of a whole batch, chunk by chunk, with a backward that replays each chunk.

    Args:
        embed: images [slice] of the batch -> their embeddings, e.g. (V, b, D) for the views of b images.
        batch: B, the images in the batch.
        chunk_size: images per chunk.
        modules: the networks `embed` runs (their trainable parameters get the gradients; their BatchNorm
            running statistics are updated once per chunk, by the replay).
        device: where `embed` runs (its CUDA random state is replayed).
        dim: the batch dimension of `embed`'s output.

    Returns:
        the embeddings of the B images along `dim`, as `embed` of the whole batch would give them (up to
        BatchNorm's per-chunk statistics); differentiable with respect to the modules' parameters.
    """
    chunks = [slice(start, min(start + chunk_size, batch)) for start in range(0, batch, chunk_size)]
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    buffers = [b for m in modules for b in batch_norm_buffers(m)]
    saved = [b.clone() for b in buffers]
    states, outputs = [], []
    with torch.no_grad():
        for chunk in chunks:
            states.append(RandomState(device))
            outputs.append(embed(chunk))
    for buffer, value in zip(buffers, saved):
        buffer.copy_(value)  # the replay updates the running statistics, once per chunk
    device_type = device.type
    autocast = (torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type))
    lengths = [c.stop - c.start for c in chunks]

    def replay(grad: Tensor) -> Sequence[Tensor | None]:
        total: list[Tensor | None] = [None] * len(params)
        for chunk, state, grad_chunk in zip(chunks, states, grad.split(lengths, dim=dim)):
            with state.replay(), torch.enable_grad():
                with torch.autocast(device_type, dtype=autocast[1], enabled=autocast[0]):
                    out = embed(chunk)
                found = torch.autograd.grad(out, params, grad_outputs=grad_chunk.to(out.dtype), allow_unused=True)
            total = [t if g is None else (g if t is None else t + g) for t, g in zip(total, found)]
        return total

    return CachedEmbeddings.apply(torch.cat(outputs, dim=dim), replay, *params)
