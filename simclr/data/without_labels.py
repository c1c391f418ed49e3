"""The base of data modules whose images have no labels: the probes use a separate labelled data module.

The linear and kNN probes (and the online probe) need labels. A data module without them takes a `labelled`
data module whose train and test splits the probes use (never the pretraining images); without one, a run
trains and validates on the contrastive loss alone and says once that no probe runs, and `simclr probe`
asks for `--data`.
"""

from __future__ import annotations

from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import Dataset

from simclr.data.base import ImageDataModule
from simclr.errors import UserError


class WithoutLabels(ImageDataModule):
    """Images without labels, and an optional labelled data module for the probes.

    Args:
        root: where the images are (layout per subclass).
        labelled: a labelled data module whose train and test splits the probes use.
        channels: 3 (RGB) or 1 (greyscale: BT.601 luma of the decoded image).
        (others as in `ImageDataModule`)
    """

    def __init__(self, root: str, labelled: ImageDataModule | None = None, channels: int = 3, **kwargs):
        super().__init__(root, **kwargs)
        if channels not in (1, 3):
            raise UserError(f"data.init_args.channels is {channels}; pass 3 (RGB) or 1 (greyscale)")
        self.labelled = labelled
        self.channels = channels
        self._told_no_probe = False

    @property
    def num_classes(self) -> int:
        """Classes of the labelled set (0 without one)."""
        return self.labelled.num_classes if self.labelled is not None else 0

    def labelled_dataset(self, split: str) -> Dataset:
        """The labelled set's "train" or "test" split; a one-line UserError without a labelled set."""
        if self.labelled is None:
            raise UserError(
                f"the images in {self.root} have no labels, so nothing can be probed; name a labelled set: "
                f"`simclr probe --data ...` (e.g. an ImageFolder with one sub-folder per class), or "
                f"--data.init_args.labelled in the fit config"
            )
        return self.labelled.labelled_dataset(split)

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.labelled is not None:
            self.labelled.setup(stage)
        elif not self._told_no_probe:
            self._told_no_probe = True
            rank_zero_info(
                f"{self.root}: unlabelled images, no labelled set: training and validation use the contrastive loss "
                f"alone, and no probe runs (name one with --data.init_args.labelled, or later with simclr probe --data)"
            )

    def validation_description(self) -> str:
        """What the validation loss is measured on, e.g. `120 held-out images of /data/photos`."""
        raise NotImplementedError

    def test_set_description(self) -> str:
        if self.labelled is None:
            return f"no labelled set ({self.validation_description()} validate the loss)"
        return self.labelled.test_set_description()
