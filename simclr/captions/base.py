"""`CaptionData`, the base of the image-caption data modules: the tokenizer, the batch layout and what
caption data cannot do.

A batch is `(images, tokens)`: images uint8 (B, C, H, W), augmented on the device by the LightningModule;
tokens int64 (B, L), L = `context_length`, each row `[<sot>, t_1, ..., t_k, <eot>, <pad>...]` with <pad> = 0
(`simclr.captions.tokenizer`). The tokenizer is read at `setup` (a one-line error if it is missing), never at
construction.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from simclr.captions.dataset import collate_captions
from simclr.captions.tokenizer import MIN_CONTEXT, CaptionTokenizer
from simclr.data.base import ImageDataModule
from simclr.errors import UserError


class CaptionData(ImageDataModule):
    """Image-caption pairs: subclasses implement `load(split)` and `default_tokenizer()`.

    Args:
        root: where the pairs are (layout per subclass).
        tokenizer: the tokenizer.json to use; default per subclass (beside the data).
        context_length: tokens per caption row, <sot> and <eot> included; longer captions are cut.
        image_size: side of the square images the batches hold, in pixels.
        channels: 3 (RGB) or 1 (greyscale: BT.601 luma of the decoded image).
        (others as in `ImageDataModule`, but not `device_resident`: images are decoded from files)
    """

    collate_fn = staticmethod(collate_captions)  # (image, tokens) pairs -> (images, tokens) batch
    num_classes = 0  # pairs have captions, not labels

    def __init__(
        self,
        root: str,
        tokenizer: str | None = None,
        context_length: int = 32,
        image_size: int = 224,
        channels: int = 3,
        **kwargs,  # ImageDataModule's: batch_size, num_workers, val_batch_size, pin_memory
    ):
        super().__init__(root, **kwargs)
        if self.device_resident:
            raise UserError(
                f"{type(self).__name__} decodes image files; device_resident needs a set in memory: drop it"
            )
        if context_length < MIN_CONTEXT:
            raise UserError(
                f"data.init_args.context_length is {context_length}; pass at least {MIN_CONTEXT} tokens, e.g. 32"
            )
        if image_size < 1:
            raise UserError(f"data.init_args.image_size is {image_size}; set it to the side of the images (e.g. 96)")
        if channels not in (1, 3):
            raise UserError(f"data.init_args.channels is {channels}; pass 3 (RGB) or 1 (greyscale)")
        self.tokenizer_path = tokenizer
        self.context_length = context_length
        self.image_size = image_size
        self.channels = channels
        self._tokenizer: CaptionTokenizer | None = None

    def default_tokenizer(self) -> Path:
        """Where the tokenizer is when the `tokenizer` option is not given."""
        raise NotImplementedError

    @property
    def tokenizer(self) -> CaptionTokenizer:
        """The caption tokenizer, read on first use; a one-line UserError if the file is missing or damaged."""
        if self._tokenizer is None:
            path = self.tokenizer_path or self.default_tokenizer()
            self._tokenizer = CaptionTokenizer.from_file(path, self.context_length)
        return self._tokenizer

    def setup(self, stage: str | None = None) -> None:
        self.tokenizer  # noqa: B018 (read it now: a missing tokenizer stops the run before any step)
        super().setup(stage)

    def labelled_dataset(self, split: str) -> Dataset:
        """Caption data has no labels: a one-line UserError pointing to a labelled data module."""
        raise UserError(
            f"{type(self).__name__} holds image-caption pairs, not class labels, so nothing can be probed on it; "
            f"probe with a labelled data module: `simclr probe --data simclr.data.FashionMNIST` (or an ImageFolder)"
        )

    def validation_description(self) -> str:
        """What validation measures on, e.g. `200 held-out image-caption pairs of /data/pairs.csv`."""
        raise NotImplementedError

    def test_set_description(self) -> str:
        return self.validation_description()
