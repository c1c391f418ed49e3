"""`CaptionImages`: image files with their captions, one (image, tokens) pair per item, and the batch collate.

A training item is a `Draw` (simclr.captions.sampler): the image and one of its captions, drawn per (seed,
epoch, image). Any other item (an int, as validation's in-order loader gives) takes the image's first
caption, so validation pairs, and retrieval scores on them, are the same at every evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from simclr.captions.sampler import Draw, draw_caption
from simclr.captions.tokenizer import CaptionTokenizer
from simclr.data.image_files import ImageFiles

CaptionBatch = tuple[Tensor, Tensor]  # images uint8 (B, C, H, W), tokens int64 (B, L)


def collate_captions(items: Sequence[tuple[Tensor, Tensor]]) -> CaptionBatch:
    """Stacks B pairs (image uint8 (C, H, W), tokens int64 (L,)) into images uint8 (B, C, H, W), tokens int64 (B, L)."""
    return torch.stack([image for image, _ in items]), torch.stack([tokens for _, tokens in items])


class CaptionImages(Dataset):
    """Image files decoded and framed to uint8 squares (`simclr.data.image_files`), each with its captions.

    Args:
        paths: absolute image paths.
        captions: the captions of each image (at least one each).
        tokenizer: turns the chosen caption into context_length token ids.
        image_size: side of the square images, in pixels.
        channels: 3 (RGB) or 1 (greyscale).
    """

    def __init__(
        self,
        paths: Sequence[str],
        captions: Sequence[Sequence[str]],
        tokenizer: CaptionTokenizer,
        image_size: int,
        channels: int = 3,
    ):
        if len(paths) != len(captions):
            raise ValueError(f"{len(paths)} paths but {len(captions)} caption lists")
        self.files = ImageFiles(paths, image_size, channels=channels)
        self.captions = [list(c) for c in captions]
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return len(self.captions)

    def caption(self, item: Draw | int) -> str:
        """The caption of `item`: drawn for a `Draw`, the image's first for a plain position."""
        if isinstance(item, Draw):
            return self.captions[item.index][draw_caption(item, len(self.captions[item.index]))]
        return self.captions[item][0]

    def __getitem__(self, item: Draw | int) -> tuple[Tensor, Tensor]:
        """(image uint8 (C, image_size, image_size), tokens int64 (context_length,)) of `item`."""
        index = item.index if isinstance(item, Draw) else int(item)
        tokens = self.tokenizer.encode([self.caption(item)], where=[self.files.paths[index]])[0]  # (L,)
        return self.files.image(index), tokens
