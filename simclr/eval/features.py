"""Frozen-feature extraction for evaluation: uint8 images -> normalised view -> h, head layers, z.

The encoder never trains here: everything runs under `torch.inference_mode()` in eval mode (BatchNorm
uses its running statistics and never updates them), and the modules' training flags are restored after.
Features come back as float32 CPU tensors, so probes and kNN run anywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from simclr.data.datasets import collate_batch
from simclr.models.representations import representation_names

Normalise = Callable[[Tensor], Tensor]  # uint8 (B, C, H, W) on the device -> float (B, C, H, W)


def _loader(dataset: Dataset, batch_size: int) -> DataLoader:
    """In-order uint8 batches (images (B, C, H, W), labels (B,)), gathered by `__getitems__` when present."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, collate_fn=collate_batch)


def extract_representations(
    encoder: nn.Module,
    head: nn.Module | None,
    dataset: Dataset,
    normalise: Normalise,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> tuple[dict[str, Tensor], Tensor]:
    """Frozen features of every image in `dataset`, in dataset order.

    Args:
        encoder: images float (B, C, H, W) -> h (B, feature_dim).
        head: a `ProjectionHead` (has `forward_all` and `layers`), or None for h only.
        dataset: (uint8 (C, H, W), label) items; batched `__getitems__` is used when present.
        normalise: uint8 (B, C, H, W) on `device` -> float (B, C, H, W), e.g. `MultiView.normalise`.
        batch_size: images per forward pass.
        device: where the forward passes run; the modules must already be there.
        memory_format: layout of the encoder's input, e.g. `torch.channels_last` for an encoder kept in
            NHWC (the SimCLR module's `channels_last`), whose CPU convolutions are faster that way.

    Returns:
        ({"h": (N, feature_dim), "head_1": (N, hidden_dim), ..., "z": (N, out_dim)} float32 on the CPU,
        labels int64 (N,)).
    """
    modules = [m for m in (encoder, head) if m is not None]
    was_training = [m.training for m in modules]
    names = representation_names(head)
    chunks: dict[str, list[Tensor]] = {name: [] for name in names}
    labels = []
    try:
        for m in modules:
            m.eval()
        with torch.inference_mode():
            for images, y in _loader(dataset, batch_size):
                x = normalise(images.to(device, non_blocking=True))  # uint8 moved, float made on the device
                x = x.contiguous(memory_format=memory_format)
                h = encoder(x)  # (B, feature_dim)
                outs = [h] + (head.forward_all(h) if head is not None else [])  # [h, head_1, ..., z]
                for name, out in zip(names, outs):
                    chunks[name].append(out.float().cpu())
                labels.append(y.long().cpu())
    finally:
        for m, flag in zip(modules, was_training):
            m.train(flag)
    return {name: torch.cat(parts) for name, parts in chunks.items()}, torch.cat(labels)


def pixel_features(dataset: Dataset, normalise: Normalise, batch_size: int = 1024) -> tuple[Tensor, Tensor]:
    """The raw-pixel baseline: flattened normalised images.

    Args:
        dataset: (uint8 (C, H, W), label) items.
        normalise: uint8 (B, C, H, W) -> float (B, C, H, W).
        batch_size: images per batch.

    Returns:
        pixels float32 (N, C*H*W), labels int64 (N,).
    """
    feats, labels = [], []
    with torch.inference_mode():
        for images, y in _loader(dataset, batch_size):
            feats.append(normalise(images).float().flatten(1).cpu())  # (B, C*H*W)
            labels.append(y.long())
    return torch.cat(feats), torch.cat(labels)
