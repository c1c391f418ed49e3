"""JPEG decoding on the training device: the workers only read the files, and a batch's JPEGs are decoded
together where the model runs (`torchvision.io.decode_jpeg` with `device="cuda"`: nvJPEG), then framed there.

JPEG decoding is the CPU cost of every real image folder; on a GPU machine with few cores per GPU the workers
cannot keep up, while nvJPEG decodes a batch in a few milliseconds. The workers send each JPEG's bytes
(1-D uint8); other formats are decoded and framed in the worker as before and travel as images. On the CPU
the same code runs with torchvision's CPU decoder (the path the tests check).

The decoded images have different sizes until framed, so framing runs image by image on the device (B small
resize kernels: torchvision's batched decoder returns a list, and no batched resize takes mixed sizes).
A JPEG the batch decoder rejects is found by decoding the batch's JPEGs one at a time, then named in a
one-line error, or with `skip_bad_images` reported once and replaced by another image of the batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_jpeg, read_file

from simclr.data.channels import as_channels
from simclr.data.decode import frame
from simclr.data.image_files import SKIP_HINT, ImageFiles
from simclr.errors import UserError, short_reason

log = logging.getLogger(__name__)
JPEG_MAGIC = (0xFF, 0xD8, 0xFF)


@dataclass
class EncodedBatch:
    """A batch whose JPEGs are still encoded.

    items: per image, the file's bytes (1-D uint8) for a JPEG, else the decoded, framed image (C, S, S) uint8.
    labels: (B,) int64. paths: the files, for error messages.
    """

    items: list[Tensor]
    labels: Tensor
    paths: list[str]

    def pin_memory(self) -> EncodedBatch:
        return EncodedBatch([t.pin_memory() for t in self.items], self.labels.pin_memory(), self.paths)


class EncodedFiles(ImageFiles):
    """`ImageFiles` whose JPEGs are only read (bytes), for `decode_batch` on the device."""

    def __getitem__(self, index: int) -> tuple[Tensor, int, str]:
        path = self.paths[index]
        try:
            data = read_file(path)  # (file size,) uint8
        except RuntimeError as e:
            if not self.skip_bad_images:
                raise UserError(f"cannot read image {path} ({short_reason(e)}); delete or replace the file, {SKIP_HINT}") from e
            image, label = super().__getitem__(index)  # reports it once and takes the next readable image
            return image, label, path
        if len(data) >= 3 and tuple(data[:3].tolist()) == JPEG_MAGIC:
            return data, -1, path
        image, label = super().__getitem__(index)
        return image, label, path


def collate_encoded(samples: list[tuple[Tensor, int, str]]) -> EncodedBatch:
    """EncodedFiles items -> one EncodedBatch (no stacking: JPEG byte strings differ in length)."""
    return EncodedBatch([s[0] for s in samples], torch.tensor([s[1] for s in samples], dtype=torch.long),
                        [s[2] for s in samples])  # fmt: skip


def decode_batch(
    batch: EncodedBatch, size: int, channels: int, device: torch.device, skip_bad_images: bool = False
) -> tuple[Tensor, Tensor]:
    """(uint8 (B, channels, size, size), labels (B,)) on `device`: the JPEGs decoded together there, framed."""
    jpegs = [i for i, t in enumerate(batch.items) if t.ndim == 1]
    encoded = [batch.items[i] for i in jpegs]
    try:
        decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device) if encoded else []
    except RuntimeError:
        decoded = [one_jpeg(t, batch.paths[i], device, skip_bad_images) for i, t in zip(jpegs, encoded)]
    out: list[Tensor | None] = [None] * len(batch.items)
    for i, image in zip(jpegs, decoded):
        out[i] = None if image is None else as_channels(frame(image, size), channels)
    for i, item in enumerate(batch.items):
        if item.ndim == 3:
            out[i] = item.to(device, non_blocking=True)
    good = [t for t in out if t is not None]
    if not good:
        raise UserError(f"no image of a batch can be decoded (first: {batch.paths[0]}); check the files")
    images = torch.stack([t if t is not None else good[0] for t in out])  # a skipped JPEG: another of the batch
    return images, batch.labels.to(device, non_blocking=True)


def one_jpeg(data: Tensor, path: str, device: torch.device, skip_bad_images: bool) -> Tensor | None:
    """One JPEG decoded on `device`; a one-line UserError naming it if it cannot be (None when skipping)."""
    try:
        return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    except RuntimeError as e:
        if not skip_bad_images:
            raise UserError(f"cannot decode image {path} ({short_reason(e)}); delete or replace the file, {SKIP_HINT}") from e
        log.warning("skipping an unreadable image: %s (%s)", path, short_reason(e))
        return None
