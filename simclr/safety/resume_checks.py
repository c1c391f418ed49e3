"""What `simclr fit --ckpt_path` checks before it resumes: that the file is a pretraining checkpoint of
Lightning's (not a bare state_dict, a weights-only save or a fine-tuned classifier), and that the command
line asks for the model and data the checkpoint was trained with.

A resume runs the checkpoint's own model options; its data options (batch size, image size, the dataset)
decide the steps an epoch has and the images the saved loader position points into, so a changed one
would quietly train something else. Where the data lives and how it is loaded may change.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from simclr.errors import UserError

LIGHTNING_KEYS = ("state_dict", "pytorch-lightning_version")  # in every checkpoint Lightning writes
TRAINING_STATE_KEYS = ("optimizer_states", "loops")  # absent from a `save_weights_only` checkpoint
FREE_DATA_OPTIONS = ("root", "num_workers", "pin_memory", "device_resident")  # where and how the data loads


def check_resumable(checkpoint: dict[str, Any], path: str | Path) -> None:
    """UserError unless `checkpoint` is a whole `simclr fit` checkpoint that `simclr fit` can resume.

    Args:
        checkpoint: the loaded file.
        path: its path, for the message.
    """
    missing = [key for key in LIGHTNING_KEYS if key not in checkpoint]
    if missing:
        raise UserError(
            f"checkpoint {path} is not a Lightning checkpoint (it has no {missing[0]!r}: e.g. a plain state_dict "
            f"saved with torch.save, or a backbone from `simclr export`); pass a .ckpt written by `simclr fit` "
            f"(e.g. runs/simclr/version_0/checkpoints/last.ckpt), or drop --ckpt_path to start a new run"
        )
    hparams = checkpoint.get("hyper_parameters")
    if isinstance(hparams, dict) and "num_classes" in hparams:
        raise UserError(
            f"checkpoint {path} is a fine-tuned checkpoint (written by `simclr finetune`), and `simclr fit` resumes only "
            f"pretraining checkpoints; resume it with `simclr finetune --ckpt_path last`, or pass a `simclr fit` checkpoint"
        )
    missing = [key for key in TRAINING_STATE_KEYS if key not in checkpoint]
    if missing:
        raise UserError(
            f"checkpoint {path} holds weights only (no {missing[0]!r}: saved with save_weights_only), and a resume needs "
            f"the optimizer and loop state; pass the run's last.ckpt, or drop --ckpt_path to start a new run"
        )


def _resolved(path: Any) -> Any:
    """The object an import path names (two spellings of one class compare equal), else the path itself."""
    if not isinstance(path, str) or "." not in path:
        return path
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return path


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, so a YAML list and a saved tuple compare equal."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def changed_data_options(command_line: dict[str, Any], saved: dict[str, Any]) -> list[str]:
    """Keys of two flat data configs ({"class_path", "init_args.batch_size", ...}) whose values differ.

    The dataset class first; with the same class, the options both configs have, except FREE_DATA_OPTIONS.
    """
    if _resolved(command_line.get("class_path")) != _resolved(saved.get("class_path")):
        return ["class_path"]
    return [
        key
        for key in command_line
        if key != "class_path"
        and key in saved
        and key.rsplit(".", 1)[-1] not in FREE_DATA_OPTIONS
        and _plain(command_line[key]) != _plain(saved[key])
    ]


def check_resume_data(path: str, command_line: dict[str, Any], saved: dict[str, Any]) -> None:
    """UserError naming the first data option this command changes from the one `path` was trained with."""
    changed = changed_data_options(command_line, saved)
    if changed:
        first = changed[0]
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise UserError(
            f"--ckpt_path {path} was trained with data.{first}={saved.get(first)!r}, but this command sets "
            f"{command_line.get(first)!r}{more}; a resume must see the data it was trained on (only "
            f"{', '.join(f'data.init_args.{k}' for k in FREE_DATA_OPTIONS)} may change), so drop the changed data "
            f"options to resume, or drop --ckpt_path to start a new run"
        )
