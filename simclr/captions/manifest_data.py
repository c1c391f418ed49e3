"""`CaptionManifest`: image-caption pairs listed in a CSV, TSV or JSON-lines manifest (`simclr.captions.manifest`).

    data:
      class_path: simclr.captions.CaptionManifest
      init_args:
        manifest: /data/pairs/train.jsonl      # tokenizer.json beside it, from `simclr tokenizer`
        val_manifest: /data/pairs/val.jsonl    # or val_fraction: 0.02, a seeded hold-out of the images
        image_size: 96
        num_workers: 8

Each training step pairs an image with one of its captions, drawn per (seed, epoch, image)
(`simclr.captions.sampler`); validation always uses an image's first caption. A held-out image
(`val_fraction`) leaves training with all its captions.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from simclr.captions.base import CaptionData
from simclr.captions.dataset import CaptionImages
from simclr.captions.manifest import ManifestCaptions, check_images_exist, hold_out, read_manifest
from simclr.captions.sampler import CaptionSampler
from simclr.errors import UserError

DEFAULT_VAL_FRACTION = 0.02


class CaptionManifest(CaptionData):
    """Image-caption pairs from a manifest (see the module docstring).

    Args:
        manifest: the training manifest: .csv, .tsv or .jsonl; image paths relative to its folder or absolute.
        val_manifest: a second manifest for validation (none of its images may be in `manifest`).
        val_fraction: without `val_manifest`, the share of `manifest`'s images held out for validation, with
            all their captions (at least 2 images; default 0.02); not allowed with `val_manifest`.
        split_seed: seed of the `val_fraction` draw (fixed: the split must not change between runs).
        image_column: the column / JSON key holding the image path.
        caption_column: the column / JSON key holding the caption (in JSON lines also a list of captions).
        tokenizer: the tokenizer.json; default `tokenizer.json` in the manifest's folder.
        (others as in `CaptionData`: `context_length`, `image_size`, `channels`, and `ImageDataModule`'s
        `batch_size`, `num_workers`, `val_batch_size`, `pin_memory`)
    """

    def __init__(
        self,
        manifest: str,
        val_manifest: str | None = None,
        val_fraction: float | None = None,
        split_seed: int = 0,
        image_column: str = "image",
        caption_column: str = "caption",
        tokenizer: str | None = None,
        **kwargs,  # others: CaptionData's and ImageDataModule's
    ):
        super().__init__(manifest, tokenizer=tokenizer, **kwargs)
        self.remove_ignored_hparams(["root"])  # the record rebuilds this class: `manifest`, not the base's `root`
        if val_manifest is not None and val_fraction is not None:
            raise UserError(
                "data.init_args.val_manifest and val_fraction both choose the validation images; pass one of them"
            )
        if val_fraction is not None and not 0 < val_fraction < 1:
            raise UserError(f"data.init_args.val_fraction is {val_fraction}; pass a share between 0 and 1, e.g. 0.02")
        self.manifest, self.val_manifest = manifest, val_manifest
        self.val_fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
        self.split_seed = split_seed
        self.image_column, self.caption_column = image_column, caption_column
        self._parts: tuple[ManifestCaptions, ManifestCaptions] | None = None

    def default_tokenizer(self) -> Path:
        return Path(self.manifest).parent / "tokenizer.json"

    def parts(self) -> tuple[ManifestCaptions, ManifestCaptions]:
        """(training, validation) images and captions, read and checked once (every listed image exists)."""
        if self._parts is None:
            train = read_manifest(self.manifest, self.image_column, self.caption_column)
            if self.val_manifest is not None:
                val = read_manifest(self.val_manifest, self.image_column, self.caption_column)
                shared = set(train.paths) & set(val.paths)
                if shared:
                    raise UserError(
                        f"{len(shared)} images of the val_manifest {self.val_manifest} are also in the manifest "
                        f"{self.manifest} (e.g. {min(shared)}); validate on images never trained on"
                    )
            else:
                kept, held = hold_out(len(train), self.val_fraction, self.split_seed)
                train, val = train.select(kept), train.select(held)
            check_images_exist(train)
            check_images_exist(val)
            self._parts = train, val
        return self._parts

    def load(self, split: str) -> Dataset:
        part = self.parts()[0 if split == "train" else 1]
        return CaptionImages(part.paths, part.captions, self.tokenizer, self.image_size, self.channels)

    def shuffled_sampler(self, dataset: Dataset, seed: int) -> CaptionSampler:
        """A permutation per (seed, epoch) whose items also draw each image's caption (`CaptionSampler`)."""
        return CaptionSampler(dataset, seed)

    def validation_description(self) -> str:
        source = self.val_manifest or f"{self.manifest} (a {self.val_fraction} hold-out)"
        return f"{len(self.dataset('val'))} image-caption pairs of {source}"
