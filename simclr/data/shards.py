"""`ImageShards`: pretraining on WebDataset tar shards, streamed (the `webdataset` library).

    data:
      class_path: simclr.data.ImageShards
      init_args:
        root: /data/shards/train-{000000..000099}.tar     # local paths, brace patterns
        val_root: /data/shards/val-000000.tar              # held-out shards for the validation loss
        image_size: 96

A shard is a tar of samples whose members share a key (`0001.jpg`, `0001.txt`, ...); the first member with
an image extension (jpg, jpeg, png, webp, bmp) is the image, decoded and framed like a folder's
(`simclr.data.decode`). Shards are shuffled per epoch and split across DDP ranks and DataLoader workers
(give at least as many shards as ranks x workers), samples are shuffled in a buffer of `shuffle_buffer`; an
epoch is one pass over the shards. A stopped run resumes at the start of the epoch it stopped in (a stream
has no index to seek to). A member that cannot be read or decoded stops the run with one line naming the
shard and key, unless `skip_bad_images` (then it is reported once and skipped).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import braceexpand
import torch
import webdataset as wds
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from torchvision.io import ImageReadMode, decode_image

from simclr.data.channels import as_channels
from simclr.data.datasets import IMAGE_EXTENSIONS, collate_batch
from simclr.data.decode import decode_with_pil, frame, to_uint8
from simclr.data.image_files import NO_LABEL
from simclr.data.without_labels import WithoutLabels
from simclr.errors import UserError, short_reason

log = logging.getLogger(__name__)
IMAGE_KEYS = tuple(e[1:] for e in IMAGE_EXTENSIONS)


def shard_paths(pattern: str, option: str) -> list[str]:
    """The shard paths a brace pattern names, each checked to exist; a one-line UserError otherwise."""
    paths = list(braceexpand.braceexpand(pattern))
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise UserError(
            f"{len(missing)} of the {len(paths)} shards of {pattern} do not exist (first: {missing[0]}); pass "
            f"--data.init_args.{option} with a path or brace pattern of .tar shards"
        )
    return paths


def decode_member(sample: dict, size: int) -> Tensor:
    """uint8 (3, size, size) of the first image member of a WebDataset sample; a UserError naming it if none
    can be decoded."""
    where = f"{sample.get('__key__')} in {sample.get('__url__')}"
    key = next((k for k in sample if k.lower() in IMAGE_KEYS), None)
    if key is None:
        raise UserError(f"the sample {where} has no image member ({', '.join(IMAGE_KEYS)})")
    data = sample[key]
    try:
        if data[:2] == b"BM":
            image = decode_with_pil(data, "BMP")
        else:
            image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError, OSError, Image.DecompressionBombError) as e:
        raise UserError(f"cannot decode the image {key} of {where} ({short_reason(e)})") from e
    if image.ndim == 4:
        image = image[0]
    return frame(to_uint8(image), size)


def stream_loader(
    stream: IterableDataset,
    batch_size: int,
    num_workers: int,
    collate_fn: Callable[[list], tuple[Tensor, Tensor]],
    drop_last: bool,
    pin_memory: bool,
) -> DataLoader:
    """A DataLoader over a shard stream (which shuffles itself), pinning memory only when CUDA is used."""
    return DataLoader(stream, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_fn,
                      drop_last=drop_last, pin_memory=pin_memory and torch.cuda.is_available(),
                      persistent_workers=False)  # fmt: skip


class ShardStream(IterableDataset):
    """(uint8 (channels, size, size), NO_LABEL) samples streamed from shards (see the module docstring)."""

    def __init__(
        self, paths: list[str], size: int, shuffle: bool, buffer: int, skip_bad_images: bool, channels: int = 3
    ):
        self.paths, self.size, self.shuffle, self.buffer = paths, size, shuffle, buffer
        self.skip_bad_images, self.channels = skip_bad_images, channels

    @staticmethod
    def pass_seed() -> int:
        """A seed for this pass over the shards, the same in every worker: the DataLoader's base seed, drawn from
        the seeded global generator at each epoch (so epochs differ, and runs with one seed agree)."""
        worker = get_worker_info()
        if worker is not None:
            return (worker.seed - worker.id) % 2**31
        return int(torch.randint(2**31, (1,)))

    def handler(self, error: Exception) -> bool:
        """webdataset's error hook: skip (reported once) with `skip_bad_images`, else stop with one line."""
        if not self.skip_bad_images:
            reason = (
                error.args[0] if isinstance(error, UserError) else f"a shard cannot be read ({short_reason(error)})"
            )
            raise UserError(f"{reason}; fix or remove it, or pass --data.init_args.skip_bad_images true") from error
        log.warning("skipping an unreadable shard member: %s", short_reason(error))
        return True

    def item(self, sample: dict) -> tuple[Tensor, int]:
        """The stream's item of one WebDataset sample: (image uint8 (channels, size, size), NO_LABEL); a UserError
        naming the sample if it has no decodable image."""
        return as_channels(decode_member(sample, self.size), self.channels), NO_LABEL

    def __iter__(self) -> Iterator[tuple[Tensor, int]]:
        seed = self.pass_seed()
        pipeline = wds.WebDataset(
            self.paths,
            shardshuffle=len(self.paths) if self.shuffle else False,
            seed=seed,
            nodesplitter=wds.split_by_node,
            workersplitter=wds.split_by_worker,
            handler=self.handler,
            empty_check=False,
        )
        if self.shuffle:
            pipeline = pipeline.shuffle(self.buffer, rng=random.Random(seed + 1))
        for sample in pipeline:
            try:
                yield self.item(sample)
            except UserError as e:
                self.handler(e)


class ImageShards(WithoutLabels):
    """Images in WebDataset tar shards, without labels (see the module docstring).

    Args:
        root: a shard path or brace pattern, e.g. /data/train-{000000..000099}.tar.
        val_root: shards for the validation loss (never trained on), as a path or brace pattern.
        image_size: side of the square images the batches hold.
        shuffle_buffer: samples shuffled together (memory: this many decoded images per worker).
        skip_bad_images: skip (and report once) members that cannot be read or decoded.
        (others as in `WithoutLabels`: `labelled`, `channels`, and `ImageDataModule`)
    """

    def __init__(
        self,
        root: str,
        val_root: str | None = None,
        image_size: int = 224,
        shuffle_buffer: int = 2000,
        skip_bad_images: bool = False,
        **kwargs,  # others: WithoutLabels' and ImageDataModule's
    ):
        super().__init__(root, **kwargs)
        if kwargs.get("device_resident"):
            raise UserError("ImageShards streams its images; device_resident needs a set in memory: drop it")
        if val_root is None:
            raise UserError(
                "ImageShards needs --data.init_args.val_root: shards held out for the validation loss (e.g. the last "
                "shard of your set), never trained on"
            )
        if image_size < 1 or shuffle_buffer < 1:
            raise UserError(f"image_size {image_size} / shuffle_buffer {shuffle_buffer}: pass numbers of 1 or more")
        self.val_root, self.image_size = val_root, image_size
        self.shuffle_buffer, self.skip_bad_images = shuffle_buffer, skip_bad_images

    def load(self, split: str) -> ShardStream:
        pattern, option = (self.root, "root") if split == "train" else (self.val_root, "val_root")
        paths = shard_paths(pattern, option)
        if split == "train" and set(paths) & set(shard_paths(self.val_root, "val_root")):
            raise UserError(f"val_root {self.val_root} shares shards with root {self.root}; hold out other shards")
        return ShardStream(
            paths, self.image_size, split == "train", self.shuffle_buffer, self.skip_bad_images, self.channels
        )

    def check_batch_size(self) -> None:
        """A stream has no length to check the batch size against."""

    def loader(self, split, batch_size: int, shuffle: bool, drop_last: bool) -> DataLoader:
        # the stream shuffles itself (train: shards per pass, then a buffer), so `shuffle` has nothing to add
        stream = self.dataset(split) if isinstance(split, str) else split
        return stream_loader(stream, batch_size, self.num_workers, collate_batch, drop_last, self.pin_memory)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", self.val_batch_size, shuffle=False, drop_last=False)

    def validation_description(self) -> str:
        return f"the held-out shards {self.val_root}"
