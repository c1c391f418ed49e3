"""Checks of a fit's inputs that are cheaper to state once at the start than to meet deep in a step.

`SimCLR.setup("fit")` calls `check_fit_inputs` after the data module has loaded its data, so a wrong
channel count or batch size stops the run with one line before the first batch, not with a shape error
inside a convolution.
"""

from __future__ import annotations

from torch import nn

from simclr.errors import UserError


def augment_channels(augment: nn.Module) -> int | None:
    """Channels the augmentation normalises (the length of its mean), if it says: MultiView -> ViewPipeline."""
    pipeline = getattr(augment, "pipeline", augment)
    mean = getattr(pipeline, "mean", None)
    return int(mean.shape[1]) if getattr(mean, "ndim", 0) == 4 else None


def check_fit_inputs(encoder: nn.Module, augment: nn.Module, data: object) -> None:
    """Raises a one-line UserError if the data does not fit the model.

    Args:
        encoder: the model's encoder (`in_channels` is read when it has one).
        augment: the model's augmentation (the channels of its mean/std are read when it has them).
        data: the data module (`channels`, `batch_size`, `val_batch_size` are read when present).
    """
    channels = getattr(data, "channels", None)
    name = type(data).__name__
    expected = getattr(encoder, "in_channels", None)
    if channels is not None and expected is not None and channels != expected:
        raise UserError(
            f"the data ({name}) has {channels}-channel images but the encoder expects {expected}; "
            f"set model.encoder.init_args.in_channels: {channels} (and an augmentation mean/std with {channels} values)"
        )
    normalised = augment_channels(augment)
    if channels is not None and normalised is not None and channels != normalised:
        raise UserError(
            f"the data ({name}) has {channels}-channel images but the augmentation's mean/std have {normalised} values; "
            f"use a pipeline for {channels}-channel images (e.g. augmentations.presets.simclr_fashion_mnist for 1 channel)"
        )
    for key in ("batch_size", "val_batch_size"):
        size = getattr(data, key, None)
        if isinstance(size, int) and size < 2:
            raise UserError(
                f"data.init_args.{key} is {size}, but NT-Xent needs at least 2 images per batch "
                f"(an image's negatives are the other images of its batch); set data.init_args.{key} >= 2 (SimCLR uses 256-4096)"
            )


def check_run_length(max_steps: int, max_epochs: int | None, limit_train_batches: int | float | None) -> None:
    """UserError for trainer limits that leave nothing to train: the run would end at once, writing nothing.

    Args:
        max_steps: `--trainer.max_steps` (-1: no limit).
        max_epochs: `--trainer.max_epochs` (None or -1: no limit).
        limit_train_batches: `--trainer.limit_train_batches` (None: all batches).
    """
    for key, value, fix in (
        ("max_steps", max_steps, "set it >= 1, or -1 to stop at --trainer.max_epochs"),
        ("max_epochs", max_epochs, "set it >= 1, or -1 to stop at --trainer.max_steps"),
        ("limit_train_batches", limit_train_batches, "set it to a number of batches >= 1 or a fraction in (0, 1]"),
    ):
        if value == 0:
            raise UserError(f"--trainer.{key} is {value}, so the run would train nothing and write nothing; {fix}")
