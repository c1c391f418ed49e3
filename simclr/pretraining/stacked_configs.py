"""Stacked `simclr fit` configs that would drop one another's view strategy without a word.

`--config a.yaml --config b.yaml` merges b over a; when b names another `model.augment` class, jsonargparse
keeps only the options the new class accepts, so stacking `configs/methods/multicrop.yaml` and then
`configs/methods/patches.yaml` trains on patches alone and the multi-crop settings vanish. Replacing the
plain two-view `augmentations.MultiView` of a dataset config is how the method configs are meant to stack;
replacing any other view strategy (multi-crop, patches, one-sided views) is refused with one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from simclr.errors import UserError

BASE_VIEWS = "augmentations.MultiView"  # the plain views a dataset config sets, which a method config may replace
AUGMENT_KEYS = ("--model.augment", "--model.init_args.augment")


def _class(path: str) -> Any:
    """The class an import path names (two spellings of one class compare equal), else the path."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return path


def _augment_class(model: Any) -> str | None:
    """The `augment` class_path a `model` config section sets, if any."""
    if not isinstance(model, dict):
        return None
    args = model.get("init_args") if isinstance(model.get("init_args"), dict) else model
    augment = args.get("augment")
    if isinstance(augment, dict):
        augment = augment.get("class_path")
    return augment if isinstance(augment, str) else None


def augment_settings(args: list[str]) -> Iterator[tuple[str, str]]:
    """(where, class_path) for every `model.augment` class set by `args`, in order: `--config` files and
    `--model.augment[.class_path] X` options."""
    i = 0
    while i < len(args):
        key, eq, value = args[i].partition("=")
        if not eq:
            value = args[i + 1] if i + 1 < len(args) else ""
        step = 1 if eq else 2
        if key == "--config":
            try:
                config = yaml.safe_load(Path(value).read_text())
            except (OSError, yaml.YAMLError):
                config = None  # the parser reports an unreadable config itself
            found = _augment_class(config.get("model")) if isinstance(config, dict) else None
            if found:
                yield value, found
        elif key in AUGMENT_KEYS or key in tuple(f"{k}.class_path" for k in AUGMENT_KEYS):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = value
            found = parsed.get("class_path") if isinstance(parsed, dict) else parsed
            if isinstance(found, str):
                yield key, found
        else:
            step = 1
        i += step


def check_view_strategies(args: list[str]) -> None:
    """UserError when a later config or option replaces a view strategy other than MultiView by another class."""
    current: tuple[str, str] | None = None
    for where, class_path in augment_settings(args):
        if current is not None and _class(current[1]) not in (_class(class_path), _class(BASE_VIEWS)):
            raise UserError(
                f"{where} sets model.augment to {class_path}, replacing {current[1]} from {current[0]} and silently "
                f"dropping its options; a run has one view strategy, so stack only one of the two"
            )
        current = (where, class_path)
