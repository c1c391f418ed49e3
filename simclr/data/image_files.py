"""`ImageFiles`: a dataset of image files without labels, decoded to uint8 squares in DataLoader workers.

A file that cannot be read or decoded stops the run with a one-line error naming it, unless the user allows
skipping (`skip_bad_images`): then it is reported once (a warning with its path and the reason, per worker
process) and the next readable file in the list takes its place, so batches keep their size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from simclr.data.channels import as_channels
from simclr.data.decode import decode_framed
from simclr.errors import UserError

log = logging.getLogger(__name__)

NO_LABEL = -1  # the label of an unlabelled image (the online probe and kNN skip labels < 0)
SKIP_HINT = "or pass --data.init_args.skip_bad_images true to skip unreadable images"


class ImageFiles(Dataset):
    """Image files, each decoded and framed to uint8 (channels, image_size, image_size) (`simclr.data.decode`).

    Args:
        paths: absolute file paths.
        image_size: side of the square images, in pixels.
        skip_bad_images: replace an unreadable file by the next readable one (reported once) instead of
            stopping with an error.
        channels: 3 (RGB) or 1 (greyscale, `simclr.data.channels`).
    """

    def __init__(self, paths: Sequence[str], image_size: int, skip_bad_images: bool = False, channels: int = 3):
        self.paths = list(paths)
        self.image_size = image_size
        self.skip_bad_images = skip_bad_images
        self.channels = channels
        self._reported: set[str] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, index: int) -> Tensor:
        """uint8 (channels, image_size, image_size) of `paths[index]`; a UserError if it cannot be decoded."""
        return as_channels(decode_framed(self.paths[index], self.image_size), self.channels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """(uint8 (3, image_size, image_size), NO_LABEL) of image `index`, or of the next readable one."""
        for step in range(len(self.paths)):
            i = (index + step) % len(self.paths)
            try:
                return self.image(i), NO_LABEL
            except UserError as e:
                if not self.skip_bad_images:
                    raise UserError(f"{e.args[0]}, {SKIP_HINT}") from e
                if self.paths[i] not in self._reported:
                    self._reported.add(self.paths[i])
                    log.warning("skipping an unreadable image: %s", e.args[0].split("; ")[0])
        raise UserError(
            f"none of the {len(self.paths)} images can be decoded (first: {self.paths[0]}); check the files"
        )

    @property
    def labels(self) -> Tensor:
        """int64 (N,) of NO_LABEL: these images have no class."""
        return torch.full((len(self.paths),), NO_LABEL, dtype=torch.long)
