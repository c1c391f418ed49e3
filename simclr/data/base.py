"""`ImageDataModule`, the base of all data modules: it caches datasets and builds the loaders.

Subclasses (simclr.data.datamodules: FashionMNIST, CIFAR10/100, STL10; simclr.data.image_folder:
ImageFolder) implement `load(split)`. Batches are uint8 (images (B, C, H, W), labels int64 (B,));
augmentation and float conversion happen on the device, in the LightningModule.

Option values are checked at construction (a one-line UserError, before a trainer or logger exists);
missing or damaged data raises a one-line error at `setup()`, never at construction or import.

Two ways to the device: by default uint8 batches are gathered on the host and copied (pinned memory when
CUDA is used; Lightning copies with non_blocking=True); with `device_resident=True` the whole in-memory
set is copied to the device once and each batch is gathered there from an index batch (simclr.data.resident).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from simclr.data.datasets import collate_batch
from simclr.data.resident import IndexBatch, IndexDataset, ResidentStore, collate_indices, host_tensors
from simclr.data.resumable import EpochRandomSampler, ResumableDataLoader
from simclr.errors import UserError


def check_loader_options(batch_size: int, num_workers: int, val_batch_size: int | None) -> None:
    """Raises a one-line UserError for a loader option no run can use (batch sizes < 1, workers < 0)."""
    for key, value in (("batch_size", batch_size), ("val_batch_size", val_batch_size)):
        if value is not None and value < 1:
            raise UserError(
                f"data.init_args.{key} is {value}; set --data.init_args.{key} to a positive number of images (e.g. 256)"
            )
    if num_workers < 0:
        raise UserError(
            f"data.init_args.num_workers is {num_workers}; set --data.init_args.num_workers 0 (load in the main "
            f"process) or a positive number of worker processes"
        )


class ImageDataModule(L.LightningDataModule):
    """Base class: subclasses implement `load(split)`; this class caches datasets and builds loaders.

    Args:
        root: where the dataset lives (layout per subclass).
        batch_size: images per training batch (per device). Train drops the last short batch: a
            batch of 1 has no negatives for the contrastive loss.
        num_workers: DataLoader worker processes; 0 loads in the main process (fine for in-memory sets).
        val_batch_size: images per validation batch; `batch_size` if None.
        pin_memory: pin host memory for faster copies; only applied when CUDA is available.
        device_resident: keep the whole uint8 train and val sets on the training device (copied once, at
            the first batch) and gather each batch there; the loader yields only indices, in the main
            process, so num_workers must be 0. For in-memory sets that fit in device memory (Fashion-MNIST,
            CIFAR, STL-10); not for image folders. Needs the trainer to use this data module's hooks
            (`trainer.fit(model, datamodule=dm)`, as the CLI does).
    """

    collate_fn = staticmethod(collate_batch)  # items -> batch in the loaders' workers
    num_classes: int  # classes of the labelled splits
    class_names: tuple[str, ...] | None = None  # their names in label order, where the data set defines them
    channels: int  # image channels C
    image_size: int  # image side H = W in pixels

    def __init__(
        self,
        root: str,
        batch_size: int = 256,
        num_workers: int = 0,
        val_batch_size: int | None = None,
        pin_memory: bool = True,
        device_resident: bool = False,
    ):
        super().__init__()
        check_loader_options(batch_size, num_workers, val_batch_size)
        if device_resident and num_workers > 0:
            raise UserError(
                f"data.init_args.device_resident gathers batches on the device in the main process, so num_workers "
                f"{num_workers} would be ignored; set --data.init_args.num_workers 0 (or device_resident false)"
            )
        # Under LightningCLI this records the YAML (class_path + init_args), so checkpoints can rebuild
        # the data module: `ImageDataModule.load_from_checkpoint(ckpt)` (used by `simclr probe`).
        self.save_hyperparameters()
        self.root = root
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_batch_size = val_batch_size or batch_size
        self.pin_memory = pin_memory
        self.device_resident = device_resident
        self._cache: dict[str, Dataset] = {}
        self._resident = ResidentStore()

    def load(self, split: str) -> Dataset:
        """Builds the "train" (pretraining) or "val" (labelled official test split) dataset."""
        raise NotImplementedError

    def dataset(self, split: str) -> Dataset:
        """The cached dataset for `split` ("train" or "val"), loaded on first use."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if split not in self._cache:
            self._cache[split] = self.load(split)
        return self._cache[split]

    def labelled_dataset(self, split: str) -> Dataset:
        """The labelled "train" or "test" split (for a linear probe); here the pretraining and val sets."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.dataset("train" if split == "train" else "val")

    def test_set_description(self) -> str:
        """What the probe and validation score on, for a report header, e.g.
        `FashionMNIST test split (10000 images) in /usr/share/datasets/fashion-mnist`."""
        return f"{type(self).__name__} test split ({len(self.labelled_dataset('test'))} images) in {Path(self.root).absolute()}"

    def prepare_data(self) -> None:
        """Loads and checks the sets early: the trainer calls this before it creates loggers and checkpoint
        folders, so missing or damaged data (or a batch larger than the training set, or device_resident
        for a set not in memory) stops a run before anything is written. `setup` reuses the loaded sets
        (processes that skip this hook, e.g. other DDP ranks on a node, load them in `setup`)."""
        fn = getattr(getattr(self.trainer, "state", None), "fn", None)
        stage = None if fn is None else str(getattr(fn, "value", fn))
        self.setup(stage)
        if stage in (None, "fit"):
            self.check_batch_size()
        if self.device_resident:  # a set that is not in memory fails here, not at the first batch
            for split in ("train", "val"):
                if split in self._cache:
                    host_tensors(self._cache[split])

    def setup(self, stage: str | None = None) -> None:
        """Loads (once) the sets the stage needs; a one-line error if the data is absent or damaged."""
        if stage in (None, "fit"):
            self.dataset("train")
        self.dataset("val")

    def check_batch_size(self) -> None:
        """A one-line UserError if `batch_size` exceeds the training set (every batch would be dropped)."""
        n = len(self.dataset("train"))
        if n < self.batch_size:
            raise UserError(
                f"batch_size {self.batch_size} exceeds the {n} training images; set --data.init_args.batch_size <= {n}"
            )

    def loader(self, split: str | Dataset, batch_size: int, shuffle: bool, drop_last: bool) -> DataLoader:
        """A DataLoader over `split` ("train", "val", or a dataset of this module's items, e.g. a Subset of a
        split) with this module's worker and pinning settings: uint8 batches, or `IndexBatch`es of positions
        when a named split is device-resident (gathered in `transfer_batch_to_device`).

        Shuffled loaders resume mid-epoch (`simclr.data.resumable`): the order is a function of (seed, epoch).
        """
        dataset = self.dataset(split) if isinstance(split, str) else split
        seed = torch.initial_seed()  # the seed seed_everything set
        pin = self.pin_memory and torch.cuda.is_available()
        if self.device_resident and isinstance(split, str):
            indices = IndexDataset(len(dataset), split)
            return ResumableDataLoader(
                indices,
                batch_size=batch_size,
                sampler=EpochRandomSampler(indices, seed) if shuffle else None,
                drop_last=drop_last,
                collate_fn=collate_indices,
                pin_memory=pin,
            )
        return ResumableDataLoader(
            dataset,
            batch_size=batch_size,
            sampler=self.shuffled_sampler(dataset, seed) if shuffle else None,
            generator=torch.Generator().manual_seed(seed),  # worker seeds without drawing from the global RNG
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            pin_memory=pin,
            persistent_workers=self.num_workers > 0,
        )

    def shuffled_sampler(self, dataset: Dataset, seed: int) -> Sampler:
        """The sampler of a shuffled host loader: a permutation per (seed, epoch) (`EpochRandomSampler`)."""
        return EpochRandomSampler(dataset, seed)

    def train_dataloader(self) -> DataLoader:
        """Shuffled pretraining batches (images uint8 (B, C, H, W), labels int64 (B,)), last short one dropped."""
        self.check_batch_size()
        return self.loader("train", self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        """Labelled test-split batches in order, the last one possibly short (but never a single image,
        which NT-Xent cannot score: it is dropped)."""
        dataset = self.dataset("val")
        if len(dataset) < 2:
            raise UserError(
                f"the validation set ({self.test_set_description()}) has {len(dataset)} image, but NT-Xent needs "
                f"at least 2 per batch; add validation images"
            )
        return self.loader("val", self.val_batch_size, shuffle=False, drop_last=len(dataset) % self.val_batch_size == 1)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Device-resident batches are gathered on the device; others move as Lightning moves them."""
        if isinstance(batch, IndexBatch):
            return self._resident.gather(batch, self.dataset(batch.split), device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def teardown(self, stage: str) -> None:
        """Frees the device copies of device-resident sets."""
        self._resident.clear()
