"""`CaptionShards`: image-caption pairs in WebDataset tar shards, streamed (`simclr.data.shards`).

    data:
      class_path: simclr.captions.CaptionShards
      init_args:
        root: /data/pairs/train-{000000..000099}.tar    # local paths, brace patterns
        val_root: /data/pairs/val-000000.tar             # held-out shards, never trained on
        image_size: 96                                   # tokenizer.json beside the first training shard

A sample is the members of one key: an image (`.jpg`, `.jpeg`, `.png`, `.webp`) and its caption (`.txt`,
UTF-8, one caption). Streaming, shuffling and the split across workers and ranks are `ImageShards`'. A sample
without a caption, with an empty one, or with an image that cannot be decoded stops the run with one line
naming the shard and key, unless `skip_bad_images` (then it is reported and skipped).
"""

from __future__ import annotations

from pathlib import Path

import braceexpand
from torch import Tensor
from torch.utils.data import DataLoader

from simclr.captions.base import CaptionData
from simclr.captions.tokenizer import CaptionTokenizer
from simclr.data.channels import as_channels
from simclr.data.shards import ShardStream, decode_member, shard_paths, stream_loader
from simclr.errors import UserError

CAPTION_KEY = "txt"


def sample_caption(sample: dict) -> str:
    """The caption of a WebDataset sample (its `.txt` member, stripped); a UserError naming the sample if it has
    none, an empty one, or one that is not UTF-8."""
    where = f"{sample.get('__key__')} in {sample.get('__url__')}"
    data = next((v for k, v in sample.items() if k.lower() == CAPTION_KEY), None)
    if data is None:
        raise UserError(f"the sample {where} has no caption (a .{CAPTION_KEY} member)")
    try:
        caption = data.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise UserError(f"the caption of the sample {where} is not UTF-8 text") from e
    if not caption:
        raise UserError(f"the sample {where} has an empty caption")
    return caption


class CaptionStream(ShardStream):
    """(image uint8 (channels, size, size), tokens int64 (context_length,)) pairs streamed from shards.

    Args:
        tokenizer: turns each caption into token ids.
        (others as in `ShardStream`)
    """

    def __init__(self, paths: list[str], tokenizer: CaptionTokenizer, size: int, shuffle: bool, buffer: int,
                 skip_bad_images: bool, channels: int = 3):  # fmt: skip
        super().__init__(paths, size, shuffle, buffer, skip_bad_images, channels)
        self.tokenizer = tokenizer

    def item(self, sample: dict) -> tuple[Tensor, Tensor]:
        caption = sample_caption(sample)
        image = as_channels(decode_member(sample, self.size), self.channels)  # (channels, size, size)
        return image, self.tokenizer.encode([caption], where=[f"{sample.get('__key__')}"])[0]  # (L,)


class CaptionShards(CaptionData):
    """Image-caption pairs in WebDataset tar shards (see the module docstring).

    Args:
        root: a shard path or brace pattern, e.g. /data/train-{000000..000099}.tar.
        val_root: shards for validation (never trained on), as a path or brace pattern.
        shuffle_buffer: samples shuffled together (memory: this many decoded images per worker).
        skip_bad_images: skip (and report) samples whose image cannot be decoded or whose caption is missing or
            empty, instead of stopping.
        tokenizer: the tokenizer.json; default `tokenizer.json` in the folder of the first training shard.
        (others as in `CaptionData`: `context_length`, `image_size`, `channels`, and `ImageDataModule`'s
        `batch_size`, `num_workers`, `val_batch_size`, `pin_memory`)
    """

    def __init__(
        self,
        root: str,
        val_root: str | None = None,
        shuffle_buffer: int = 2000,
        skip_bad_images: bool = False,
        tokenizer: str | None = None,
        **kwargs,  # others: CaptionData's and ImageDataModule's
    ):
        super().__init__(root, tokenizer=tokenizer, **kwargs)
        if val_root is None:
            raise UserError(
                "CaptionShards needs --data.init_args.val_root: shards held out for validation (e.g. the last shard "
                "of your set), never trained on"
            )
        if shuffle_buffer < 1:
            raise UserError(f"data.init_args.shuffle_buffer is {shuffle_buffer}; pass 1 or more (e.g. 2000)")
        self.val_root, self.shuffle_buffer, self.skip_bad_images = val_root, shuffle_buffer, skip_bad_images

    def default_tokenizer(self) -> Path:
        return Path(next(iter(braceexpand.braceexpand(self.root)))).parent / "tokenizer.json"

    def load(self, split: str) -> CaptionStream:
        pattern, option = (self.root, "root") if split == "train" else (self.val_root, "val_root")
        paths = shard_paths(pattern, option)
        if split == "train" and set(paths) & set(shard_paths(self.val_root, "val_root")):
            raise UserError(f"val_root {self.val_root} shares shards with root {self.root}; hold out other shards")
        return CaptionStream(paths, self.tokenizer, self.image_size, split == "train", self.shuffle_buffer,
                             self.skip_bad_images, self.channels)  # fmt: skip

    def check_batch_size(self) -> None:
        """A stream has no length to check the batch size against."""

    def loader(self, split, batch_size: int, shuffle: bool, drop_last: bool) -> DataLoader:
        # the stream shuffles itself (train: shards per pass, then a buffer), so `shuffle` has nothing to add
        stream = self.dataset(split) if isinstance(split, str) else split
        return stream_loader(stream, batch_size, self.num_workers, self.collate_fn, drop_last, self.pin_memory)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", self.val_batch_size, shuffle=False, drop_last=False)

    def validation_description(self) -> str:
        return f"the held-out shards {self.val_root}"
