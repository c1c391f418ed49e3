"""Augmentation options checked in the config, before anything is built, each named by its full key.

Kornia's transforms accept a probability outside [0, 1] and fail on a reversed range or a zero size with
their own exceptions; ours raise ConfigError when built. Read from the parsed config, every augmentation
class (ours under `augmentations.`, kornia's under `kornia.augmentation.`) is held to the same rules, and
the message names the option as the config spells it, e.g.
`model.augment.init_args.pipeline.init_args.transforms[2].init_args.p`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from augmentations.errors import ConfigError

CHECKED_PACKAGES = ("augmentations.", "kornia.augmentation.")
PROBABILITIES = ("p", "p_batch", "blur_p")  # a chance per image (or per batch)
RANGES = ("scale", "ratio", "crop_scale")  # (low, high) of a crop's area fraction or aspect ratio
SIZES = ("size",)  # an output side in pixels, or (height, width)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_option(key: str, value: Any, path: str) -> None:
    """ConfigError when an augmentation option `key` (at config key `path`) has a value no run can use."""
    if key in PROBABILITIES and _number(value) and not 0 <= value <= 1:
        raise ConfigError(
            f"{path} is {value}, but a probability must be in [0, 1]; set it from 0 (never) to 1 (always)"
        )
    pair = isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) for v in value)
    if key in RANGES and pair and not 0 < value[0] <= value[1] < math.inf:
        low, high = sorted(abs(v) for v in value)
        raise ConfigError(
            f"{path} is [{value[0]:g}, {value[1]:g}], but a range must be [low, high] with 0 < low <= high; "
            f"e.g. [{low or 0.08:g}, {high:g}]"
        )
    sizes = [value] if _number(value) else list(value) if isinstance(value, (list, tuple)) else []
    if key in SIZES and all(_number(v) for v in sizes) and any(not v >= 1 for v in sizes):
        raise ConfigError(
            f"{path} is {value}, but an output size must be >= 1 pixel; use the encoder's input size (e.g. 28)"
        )


def check_augment_config(config: Any, path: str) -> None:
    """Checks every augmentation class in a config tree (dicts, lists, jsonargparse Namespaces).

    Args:
        config: e.g. the parsed `model` section.
        path: the key `config` sits at, e.g. "model".
    """
    if hasattr(config, "as_dict"):
        config = config.as_dict()
    if isinstance(config, (list, tuple)):
        for i, item in enumerate(config):
            check_augment_config(item, f"{path}[{i}]")
        return
    if not isinstance(config, Mapping):
        return
    class_path = config.get("class_path")
    init_args = config.get("init_args")
    if isinstance(class_path, str) and class_path.startswith(CHECKED_PACKAGES) and isinstance(init_args, Mapping):
        for key, value in init_args.items():
            check_option(key, value, f"{path}.init_args.{key}")
    for key, value in config.items():
        check_augment_config(value, f"{path}.{key}")
