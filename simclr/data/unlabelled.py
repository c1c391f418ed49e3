"""`UnlabelledImages`: pretraining on your own images without labels, from a folder tree (any nesting), a file
list, or a CSV / JSON-lines manifest.

    data:
      class_path: simclr.data.UnlabelledImages
      init_args:
        root: /data/photos            # a folder tree, or photos.txt / photos.csv / photos.jsonl
        image_size: 96
        labelled:                     # optional: a labelled set for the probes (never the pretraining images)
          class_path: simclr.data.ImageFolder
          init_args: {root: /data/labelled/train, val_root: /data/labelled/val, image_size: 96}

Validation measures the contrastive loss on a seeded held-out share of the images (`val_fraction`), never
trained on. The linear and kNN probes need labels: they use the `labelled` data module's splits (or
`simclr probe --data ...` names one); without one, a run trains and validates on the contrastive loss alone.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import Dataset

from simclr.data.device_decode import EncodedBatch, EncodedFiles, collate_encoded, decode_batch
from simclr.data.image_files import ImageFiles
from simclr.data.image_index import image_index
from simclr.data.image_lists import read_image_list
from simclr.data.without_labels import WithoutLabels
from simclr.errors import UserError

MIN_VAL_IMAGES = 2  # NT-Xent needs two images in a validation batch


class UnlabelledImages(WithoutLabels):
    """Your own images without labels (see the module docstring).

    Args:
        root: a folder tree of images (searched at any depth, indexed once: `simclr.data.image_index`), or a
            list file: .txt (one path a line), .csv or .jsonl (`path_column`); relative paths are relative to
            the list's folder.
        image_size: side of the square images the batches hold (decoded and framed: `simclr.data.decode`).
        path_column: the CSV column / JSON key with the image paths.
        val_fraction: share of the images held out for the validation loss (at least 2 images), 0 < f < 1.
        split_seed: seed of the held-out draw.
        skip_bad_images: skip (and report once) files that cannot be read or decoded, listed files that do
            not exist included; by default the first one stops the run with an error naming it.
        index_file: where the folder index is cached (default under ~/.cache/simclr-toolkit/index).
        decode_on_device: the workers only read the files; each batch's JPEGs are decoded on the training
            device (nvJPEG on a GPU; `simclr.data.device_decode`), other formats in the workers as usual.
        (others as in `WithoutLabels`: `labelled`, `channels`, and `ImageDataModule`; use num_workers > 0, decoding is CPU work)
    """

    def __init__(
        self,
        root: str,
        image_size: int = 224,
        path_column: str = "path",
        val_fraction: float = 0.02,
        split_seed: int = 0,
        skip_bad_images: bool = False,
        index_file: str | None = None,
        decode_on_device: bool = False,
        **kwargs,  # others: WithoutLabels' and ImageDataModule's
    ):
        super().__init__(root, **kwargs)
        if image_size < 1:
            raise UserError(f"data.init_args.image_size is {image_size}; set it to the side of the images (e.g. 96)")
        if not 0 < val_fraction < 1:
            raise UserError(f"data.init_args.val_fraction is {val_fraction}; pass a share between 0 and 1, e.g. 0.02")
        self.image_size = image_size
        self.path_column = path_column
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.skip_bad_images = skip_bad_images
        self.index_file = index_file
        self.decode_on_device = decode_on_device
        if decode_on_device:
            self.collate_fn = collate_encoded

    def image_paths(self) -> list[str]:
        """Every image of `root`, in a fixed order (files a list names but that do not exist: see
        `skip_bad_images`)."""
        if "paths" in self._cache:
            return self._cache["paths"]
        root = Path(self.root)
        if root.is_dir():
            index = image_index(root, self.index_file)
            paths = [str(root.absolute() / p) for p in index.paths]
        else:
            paths = read_image_list(root, self.path_column).paths
            missing = [p for p in paths if not Path(p).is_file()]
            if missing and not self.skip_bad_images:
                raise UserError(
                    f"{len(missing)} of the {len(paths)} files listed in {root} do not exist (first: {missing[0]}); "
                    f"fix the list, or pass --data.init_args.skip_bad_images true to skip them"
                )
            if missing:
                rank_zero_info(f"skipping {len(missing)} listed files that do not exist (first: {missing[0]})")
                gone = set(missing)
                paths = [p for p in paths if p not in gone]
        self._cache["paths"] = paths
        return paths

    def split(self) -> tuple[list[str], list[str]]:
        """(training paths, held-out validation paths): a seeded draw of `val_fraction` of the images."""
        paths = self.image_paths()
        n_val = max(MIN_VAL_IMAGES, round(self.val_fraction * len(paths)))
        if len(paths) < n_val + MIN_VAL_IMAGES:
            raise UserError(
                f"{self.root} holds {len(paths)} images, too few to hold out {n_val} for validation and train on the "
                f"rest; add images"
            )
        order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(self.split_seed)).tolist()
        held = set(order[:n_val])
        return [p for i, p in enumerate(paths) if i not in held], [paths[i] for i in sorted(held)]

    def load(self, split: str) -> Dataset:
        train, val = self.split()
        files = EncodedFiles if self.decode_on_device else ImageFiles
        return files(train if split == "train" else val, self.image_size, self.skip_bad_images, self.channels)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Batches of still-encoded JPEGs (`decode_on_device`) are decoded and framed on `device`."""
        if isinstance(batch, EncodedBatch):
            return decode_batch(batch, self.image_size, self.channels, device, self.skip_bad_images)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def validation_description(self) -> str:
        return f"{len(self.dataset('val'))} held-out unlabelled images of {self.root}"
