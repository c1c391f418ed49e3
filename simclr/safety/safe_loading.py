"""Reading checkpoint files from users, which are untrusted: no code from a file ever runs by default.

- `torch.load(weights_only=True)`: the unpickler builds tensors and plain Python types only; a crafted
  pickle that would call a function is refused. Our checkpoints hold nothing else (RNG states are stored
  as tensors and lists, see `simclr.safety.rng`).
- The model and data config saved in a checkpoint (`class_path`s that LightningCLI instantiates) may only
  name the classes on the exact list of `simclr.safety.allowed_classes`; a config naming, say,
  `os.system` or a torch function that compiles source is refused before anything is instantiated.
- `weights_only=False` (the CLI's `--weights_only false`) lifts both checks, for a file the user trusts.
- A checkpoint whose weights or buffers are not finite, or absurdly large (a diverged run), is refused for
  probing, fine-tuning and export.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from simclr.errors import UserError, short_reason
from simclr.safety.allowed_classes import check_classes

TRUST_SWITCH = "--weights_only false"  # the one option that lifts both checks, for a checkpoint the user trusts
SANE_MAGNITUDE = 1e6  # no weight or buffer of a trained network comes near this; a diverging run's do

# torch.load of a damaged file fails in many ways (zip reader, unpickler, legacy format parser); every
# exception raised by a bare torch.load(path) is about the file, so these wrappers catch them all.
UNREADABLE_ERRORS = (Exception,)


def unreadable_checkpoint(path: str | Path, error: BaseException) -> UserError:
    """The one-line error for a checkpoint file `torch.load` failed on with `error`."""
    local = Path(path).is_file()
    intact = local and zipfile.is_zipfile(path)  # torch.save writes a zip; a cut-off one has lost its directory
    if intact and ("weights_only" in str(error) or "Weights only load failed" in str(error)):
        return UserError(
            f"checkpoint {path} holds objects that safe loading (torch.load weights_only=True) refuses; "
            f"if you trust the file, pass --weights_only false"
        )
    reason = short_reason(error)
    if local and not intact:
        with open(path, "rb") as fh:
            zipped = fh.read(2) == b"PK"
        reason = (
            "the end of the file is missing: its write was cut off" if zipped else "not a file written by torch.save"
        )
    return UserError(
        f"checkpoint {path} is truncated or corrupt ({reason}); pass an intact checkpoint "
        f"(another .ckpt in {Path(path).parent}) or start a new run without it"
    )


def read_checkpoint_file(path: str | Path, weights_only: bool = True) -> dict[str, Any]:
    """`torch.load` of a checkpoint file for inspection, tensors memory-mapped (cheap even for big files).

    Checkpoints come from users, so they are untrusted: `weights_only=True` (the default) unpickles only
    tensors and plain types, and never runs code from the file. Our own checkpoints hold nothing else.
    `weights_only=False` unpickles anything; only for a file the user trusts (the error names the flag).

    Raises:
        FileNotFoundError: no file at `path`.
        UserError: the file is truncated / corrupt, or holds objects safe loading refuses.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(
            f"checkpoint {path} is a folder, not a checkpoint file; pass the .ckpt inside it, e.g. {path / 'last.ckpt'}"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; pass the path of a .ckpt written by `simclr fit` "
            f"(e.g. runs/demo/checkpoints/last.ckpt), or `--ckpt_path last` with the run's --checkpoint.dirpath"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=weights_only, mmap=True)
    except UNREADABLE_ERRORS as e:
        raise unreadable_checkpoint(path, e) from e
    if not isinstance(checkpoint, dict):
        raise UserError(
            f"checkpoint {path} holds a {type(checkpoint).__name__}, not a checkpoint dict; pass a .ckpt written by `simclr fit`"
        )
    if weights_only:
        check_import_paths(checkpoint, path)
    return checkpoint


def read_checkpoint(path: str | Path, weights_only: bool = True) -> dict[str, Any]:
    """The checkpoint dict of a `simclr fit` checkpoint (see `read_checkpoint_file` for `weights_only`).

    Raises:
        FileNotFoundError: no file at `path`.
        UserError: the file is unreadable or unsafe, or was not written by `simclr fit`.
    """
    checkpoint = read_checkpoint_file(path, weights_only)
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(checkpoint.get("state_dict"), dict) or not isinstance(hparams, dict) or "encoder" not in hparams:
        raise UserError(
            f"checkpoint {path} was not written by `simclr fit` (no SimCLR model config in it); pass a .ckpt from "
            f"`simclr fit` (a backbone.pt from `simclr export` holds encoder weights only)"
        )
    return checkpoint


def check_import_paths(checkpoint: dict[str, Any], path: str | Path) -> None:
    """UserError when the config saved in `checkpoint` names a class outside `simclr.safety.allowed_classes`.

    The model config holds no file names, so every string that reads as an import path is checked; the
    data config holds paths (`root` may contain dots), so only its `class_path`s are.
    """
    check_classes(checkpoint.get("hyper_parameters"), f"checkpoint {path}'s saved config", TRUST_SWITCH)
    check_classes(
        checkpoint.get("datamodule_hyper_parameters"), f"checkpoint {path}'s saved data config", TRUST_SWITCH, False
    )


def non_finite_entries(state_dict: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors of `state_dict` holding NaN or inf."""
    return [
        k
        for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


def non_sane_entries(state_dict: dict[str, Any], limit: float = SANE_MAGNITUDE) -> list[str]:
    """Names of the floating-point tensors of `state_dict` holding NaN, inf or a value beyond +-`limit`:
    the weights of a run that diverged (finite weights of magnitude 1e29 are no better than inf ones)."""
    return [
        k
        for k, v in state_dict.items()
        if isinstance(v, torch.Tensor)
        and v.is_floating_point()
        and v.numel() > 0
        and not bool((torch.isfinite(v) & (v.abs() <= limit)).all())
    ]


def check_finite(checkpoint: dict[str, Any], path: str | Path) -> None:
    """UserError when the checkpoint's weights or buffers are not finite or beyond `SANE_MAGNITUDE` (the run
    diverged before it was saved)."""
    state = checkpoint.get("state_dict") or {}
    bad = non_sane_entries(state)
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        what = "non-finite values" if bad[0] in non_finite_entries({bad[0]: state[bad[0]]}) else "values beyond 1e6"
        raise UserError(
            f"checkpoint {path} holds {what} in {bad[0]}{more}: the run diverged before it was saved; "
            f"use an earlier checkpoint of the run, or retrain with a lower learning rate"
        )
