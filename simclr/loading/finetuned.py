"""Fine-tuned checkpoints (`simclr finetune`, `simclr distill`): built from a config, saved, told apart, loaded.

A `FineTuner` or `Distiller` is instantiated from its config (class_path / init_args dicts, as LightningCLI
would), and that config becomes its hparams, so `load_from_checkpoint` rebuilds every part from a file that
holds only tensors and plain types (safe to load with `weights_only=True`). The checkpoint also records
the data module of the pretraining run and the labelled subset (`RunRecord`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch import Callback

from simclr.data.base import ImageDataModule
from simclr.data.subsets import LabelSubset
from simclr.errors import UserError
from simclr.finetuning.distiller import Distiller
from simclr.finetuning.finetuner import FineTuner
from simclr.safety.lightning_internals import instantiate_saved
from simclr.safety.safe_loading import check_finite, read_checkpoint_file


def is_finetuned(checkpoint: dict[str, Any]) -> bool:
    """Whether a checkpoint dict was written by `simclr finetune` or `simclr distill` (not by `simclr fit`)."""
    hparams = checkpoint.get("hyper_parameters") or {}
    return "num_classes" in hparams or "teacher" in hparams


class RunRecord(Callback):
    """Adds the pretraining run's data module config and the labelled subset to every checkpoint saved.

    Args:
        datamodule_hparams: `datamodule_hyper_parameters` of the pretraining checkpoint.
        subset: the labelled subset the run trained on.
        run: what a resume must repeat: {"command", "name", "options": {option: value}} (plain types), saved as "run".
    """

    def __init__(self, datamodule_hparams: dict[str, Any], subset: LabelSubset, run: dict[str, Any] | None = None):
        self.datamodule_hparams = dict(datamodule_hparams)
        self.subset = subset
        self.run = run

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["datamodule_hyper_parameters"] = self.datamodule_hparams
        checkpoint["label_subset"] = asdict(self.subset)
        if self.run is not None:
            checkpoint["run"] = self.run


def read_finetuned(ckpt: str | Path, weights_only: bool = True) -> dict[str, Any]:
    """The checkpoint dict of a fine-tuned model; a one-line UserError for any other file."""
    checkpoint = read_checkpoint_file(ckpt, weights_only)
    if not is_finetuned(checkpoint) or not isinstance(checkpoint.get("state_dict"), dict):
        raise UserError(
            f"checkpoint {ckpt} is not a fine-tuned model; pass a .ckpt written by `simclr finetune` (its "
            f"out_dir/checkpoints folder)"
        )
    check_finite(checkpoint, ckpt)
    return checkpoint


def finetuned_datamodule(checkpoint: dict[str, Any], ckpt: str | Path, root: str | None = None) -> ImageDataModule:
    """The data module a fine-tuned checkpoint's pretraining run used (`RunRecord`), with `root` if given."""
    hparams = dict(checkpoint.get("datamodule_hyper_parameters") or {})
    if "_class_path" not in hparams or "label_subset" not in checkpoint:
        raise UserError(
            f"checkpoint {ckpt} records no data module or labelled subset; pass a .ckpt written by `simclr finetune`"
        )
    if root:
        hparams["root"] = root
    return instantiate_saved(ImageDataModule, hparams)


def load_finetuned(ckpt: str | Path, map_location: str | torch.device = "cpu", weights_only: bool = True) -> FineTuner:
    """The fine-tuned network of a `simclr finetune` checkpoint, or the student of a `simclr distill` one."""
    checkpoint = read_finetuned(ckpt, weights_only)
    cls = Distiller if "teacher" in checkpoint["hyper_parameters"] else FineTuner
    model = cls.load_from_checkpoint(Path(ckpt), map_location=map_location, weights_only=weights_only)
    return model.student if isinstance(model, Distiller) else model


def load_encoder_model(ckpt: str | Path, weights_only: bool = True) -> L.LightningModule:
    """The model whose `encoder` and `augment` `simclr export` writes: a fine-tuned network (FineTuner) for a
    `simclr finetune` / `simclr distill` checkpoint, else the pretraining checkpoint's SimCLR module."""
    from simclr.loading.pretrained import load_pretrained

    if is_finetuned(read_checkpoint_file(ckpt, weights_only)):
        return load_finetuned(ckpt, weights_only=weights_only)
    return load_pretrained(ckpt, weights_only=weights_only)
