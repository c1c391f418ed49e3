"""Checkpoint files: atomic writes, and one-line errors for checkpoints that cannot be used.

Lightning's `TorchCheckpointIO` writes through an fsspec transaction whose temporary file lives in the
system temp folder (`tempfile.mkstemp()`), so when that is another file system the final move is a copy:
a kill during the copy leaves a truncated `last.ckpt`. `AtomicCheckpointIO` writes the temporary file
next to the target and `os.replace`s it, which is atomic on POSIX and Windows: a reader (or a resume)
sees the old checkpoint or the new one, never a partial file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import nn

from simclr.errors import UserError
from simclr.safety.safe_loading import UNREADABLE_ERRORS, unreadable_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` that writes `path` atomically (temp file in the same folder, fsync, `os.replace`)
    and reports an unreadable checkpoint as a one-line `UserError`. Remote paths (`s3://...`) go to Lightning."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())  # the bytes are on disk before the rename makes them the checkpoint
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # only left over if torch.save or the write failed

    def load_checkpoint(self, path: str | Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if "://" not in str(path) and Path(path).is_dir():
            raise UserError(
                f"checkpoint {path} is a folder, not a checkpoint file; pass the .ckpt inside it, e.g. "
                f"{Path(path) / 'last.ckpt'}"
            )
        if "://" not in str(path) and not Path(path).is_file():
            raise FileNotFoundError(
                f"checkpoint {path} does not exist; pass the path of a .ckpt written by `simclr fit`, or "
                f"`--ckpt_path last` with the run's --checkpoint.dirpath"
            )
        try:
            return super().load_checkpoint(path, *args, **kwargs)
        except UNREADABLE_ERRORS as e:
            raise unreadable_checkpoint(path, e) from e


def state_dict_differences(
    saved: dict[str, Any], current: dict[str, Any], strict: bool = True, file: str = "the checkpoint",
    model: str = "this model",
) -> list[str]:  # fmt: skip
    """Why `saved` would not load into a module whose state_dict is `current`: shapes that differ and (with
    `strict`) names on one side only, each a phrase naming the tensor, `file` and `model`; [] when it loads."""
    problems = [
        f"{k} has shape {tuple(saved[k].shape)} in {file} but {tuple(v.shape)} in {model}"
        for k, v in current.items()
        if k in saved and hasattr(saved[k], "shape") and tuple(saved[k].shape) != tuple(v.shape)
    ]
    if strict:
        problems += [f"{k} is missing from {file}" for k in current if k not in saved]
        problems += [f"{file} has {k}, which {model} lacks" for k in saved if k not in current]
    return problems


def check_compatible(
    model: nn.Module, checkpoint: dict[str, Any], path: str | Path | None = None, strict: bool = True
) -> None:
    """Raises a one-line UserError when `checkpoint["state_dict"]` would not load into `model`.

    Args:
        model: the module about to be restored.
        checkpoint: a Lightning checkpoint dict.
        path: where it came from, for the message.
        strict: also require the same parameter names (as `load_state_dict(strict=True)`); shapes always.
    """
    problems = state_dict_differences(checkpoint.get("state_dict") or {}, model.state_dict(), strict)
    if problems:
        more = f" (and {len(problems) - 1} more differences)" if len(problems) > 1 else ""
        raise UserError(
            f"checkpoint {path or ''} is from another architecture: {problems[0]}{more}; use the model config it was "
            f"trained with (config.yaml in its run folder) or drop --ckpt_path to start a new run".replace(
                "checkpoint  is", "checkpoint is"
            )
        )
