"""`simclr fit` arguments inside the comparison commands: every `--config` and `--model.*` / `--data.*` /
`--trainer.*` / `--seed_everything` override is a fit argument; the comparisons build one fresh model per run
from them (`build_from_fit_config`) and never overwrite the configs they read (`fit_inputs`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import lightning as L

from simclr.ablation.runner import quiet_lightning
from simclr.pretraining import SimCLRCLI, run_fit

FIT_PREFIXES = ("--model.", "--data.", "--trainer.", "--seed_everything")


def split_fit_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(fit-config arguments: every `--config` and the FIT_PREFIXES overrides with their values, the rest)."""
    fit, rest, i = [], [], 0
    while i < len(args):
        arg = args[i]
        takes_value = "=" not in arg and i + 1 < len(args)
        if arg == "--config" or arg.startswith(FIT_PREFIXES):
            fit += args[i : i + 2] if takes_value else [arg]
            i += 2 if takes_value else 1
        else:
            rest.append(arg)
            i += 1
    return fit, rest


def fit_inputs(fit_args: list[str]) -> list[tuple[str, str]]:
    """("--config", path) for every fit config in the fit arguments (the files an output must not replace)."""
    configs = [value for arg, value in zip(fit_args, fit_args[1:]) if arg == "--config"]
    configs += [arg.split("=", 1)[1] for arg in fit_args if arg.startswith("--config=")]
    return [("--config", config) for config in configs]


def build_from_fit_config(fit_args: list[str]) -> tuple[Callable[[], L.LightningModule], L.LightningDataModule]:
    """(build_model, datamodule) from `simclr fit` arguments: build_model() returns a fresh model of the config."""

    def make_cli() -> SimCLRCLI:
        with quiet_lightning(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            return run_fit([*fit_args, "--trainer.logger", "false"], run=False, save_config_callback=None)

    return (lambda: make_cli().model), make_cli().datamodule
