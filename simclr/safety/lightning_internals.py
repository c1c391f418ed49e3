"""Every use of Lightning's private names, in one place.

Lightning offers no public hook for the few things below, so we reach into its internals here and only
here; `tests/test_lightning_internals.py` has one test per hook, so a Lightning release that renames or
changes one fails that test with the hook's name rather than somewhere deep in a run.

- `given_hyperparameters()`: whether LightningCLI is building the module (its config is then the
  module's hparams, so `load_from_checkpoint` can rebuild every part).
- `attached_trainer(module)`: the module's trainer or None (`module.trainer` raises when detached).
- `SaveLastEveryNSteps`: ModelCheckpoint that writes `last.ckpt` at every step interval, also before
  the first validation, and at the end of training.
- `CLIHooks`: LightningCLI with two private steps made overridable: reading the config saved in a
  `--ckpt_path` (honouring `--weights_only`), and choosing the callbacks the trainer is built with.
- `callback_state_key(callback, **kwargs)`: the key a stateful callback's state is saved under.
- `build_with_config(cls, config)` / `without_instantiator(hparams)` / `instantiate_saved(cls, hparams)`:
  a module built from a class_path/init_args config outside LightningCLI, with that config as the hparams
  `load_from_checkpoint` rebuilds it from (Lightning's `_instantiator` key), and a saved config rebuilt.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI, instantiate_module
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters


def given_hyperparameters() -> dict | None:
    """The config LightningCLI is instantiating the current module from, or None outside the CLI."""
    return _given_hyperparameters.get()


def attached_trainer(module: LightningModule) -> Trainer | None:
    """`module`'s trainer, or None when it is not attached to one (no exception, unlike `module.trainer`)."""
    return module._trainer


def callback_state_key(callback: Callback, **kwargs: Any) -> str:
    """The checkpoint key of a callback's state, made from its class name and `kwargs` (Lightning's format)."""
    return callback._generate_state_key(**kwargs)


Built = TypeVar("Built")
INSTANTIATOR_KEY = "_instantiator"  # where Lightning records how to rebuild a module from its hparams
INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"  # the allow-listed rebuilder LightningCLI records


def build_with_config(cls: type[Built], config: dict[str, Any]) -> Built:
    """`cls` instantiated from `config` (init arguments; modules as {"class_path", "init_args"} dicts), with the
    config (and Lightning's instantiator) as its hparams, so `cls.load_from_checkpoint` rebuilds it from a file
    holding only plain types, as it does for a module LightningCLI built."""
    module = instantiate_module(cls, copy.deepcopy(config))  # the parser may turn nested dicts into Namespaces
    module.hparams.clear()
    module.hparams.update({**copy.deepcopy(config), INSTANTIATOR_KEY: INSTANTIATOR})
    return module


def without_instantiator(hparams: dict[str, Any]) -> dict[str, Any]:
    """A copy of saved hparams without Lightning's instantiator entry: the config alone."""
    return {key: copy.deepcopy(value) for key, value in hparams.items() if key != INSTANTIATOR_KEY}


def instantiate_saved(cls: type[Built], hparams: dict[str, Any]) -> Built:
    """A subclass of `cls` rebuilt from hparams LightningCLI saved (`_class_path` names the subclass).

    Lightning 2.6's `load_from_checkpoint` filters `_class_path` out of the kwargs before instantiating, so
    a saved subclass would come back as `cls` itself; this keeps it."""
    return instantiate_module(cls, without_instantiator(hparams))


def flat_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config (dicts or jsonargparse Namespaces) as {"encoder.init_args.width": 8, ...}; lists stay values."""
    if hasattr(config, "as_dict"):
        config = config.as_dict()
    if not isinstance(config, dict):
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(flat_config(value, f"{prefix}.{key}" if prefix else key))
    return flat


class SaveLastEveryNSteps(ModelCheckpoint):
    """Lightning's ModelCheckpoint (same arguments), with `last.ckpt` kept current for resuming:

    - a step-interval save (`every_n_train_steps`) writes `last.ckpt` at once; Lightning defers the whole
      save to the next validation while the monitored metric is missing (the first epoch), so a kill in
      a long first epoch would find nothing to resume from;
    - when training ends, `last.ckpt` holds the final weights; Lightning skips that save when a
      step-interval save already wrote `last.ckpt` earlier in the run;
    - a `fast_dev_run` writes no checkpoint (Lightning's `on_train_end` writes `last.ckpt` even then).
    """

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any, **kwargs: Any) -> None:
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        step = trainer.global_step
        due = self._every_n_train_steps >= 1 and step % self._every_n_train_steps == 0
        if (
            due
            and self.save_last
            and self._last_global_step_saved != step
            and not self._should_skip_saving_checkpoint(trainer)
        ):
            previous = self._last_global_step_saved
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            if self._defer_save_until_validation:  # let the deferred top-k save at validation end still run
                self._last_global_step_saved = previous

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.fast_dev_run:  # Lightning's own on_train_end writes last.ckpt even in a smoke run
            return
        if (
            self.save_last
            and self._last_global_step_saved != trainer.global_step
            and not self._should_skip_saving_checkpoint(trainer)
        ):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        super().on_train_end(trainer, pl_module)


LIGHTNING_CKPT_NAMES = ("last", "best", "hpc")  # `--ckpt_path` values Lightning resolves itself ("registry..." too)


def names_a_file(ckpt_path: str) -> bool:
    """Whether `--ckpt_path` names a local file (not one of Lightning's names, not a remote URL)."""
    return ckpt_path not in LIGHTNING_CKPT_NAMES and not ckpt_path.startswith("registry") and "://" not in ckpt_path


class CLIHooks(LightningCLI):
    """LightningCLI whose private steps call overridable methods:

    - `read_ckpt_path(path, weights_only)` loads `--ckpt_path`, whose saved model config replaces the command line's;
    - `check_resume_config(path, command_line, checkpoint)` sees both model configs, flattened;
    - `check_resume_data(path, command_line, checkpoint)` sees both data configs, flattened (when the checkpoint
      saved one);
    - `select_callbacks(trainer_config, callbacks)` returns the callbacks the trainer is built with;
    - `trainer_config()` is the `trainer` section of the parsed config (instantiated);
    - `resume_config(path)` runs the checks above on any checkpoint file (e.g. the one `--ckpt_path last` finds).
    """

    def read_ckpt_path(self, path: str, weights_only: bool) -> dict:
        """The checkpoint dict of `--ckpt_path` (called before its saved config is read; default: torch.load)."""
        return torch.load(path, weights_only=weights_only, map_location="cpu")

    def check_resume_config(self, path: str, command_line: dict, checkpoint: dict) -> None:
        """Called with the flattened model config of the command line and of `--ckpt_path` (which replaces it)."""

    def check_resume_data(self, path: str, command_line: dict, checkpoint: dict) -> None:
        """Called with the flattened data config of the command line and the one saved in `--ckpt_path`."""

    def select_callbacks(self, trainer_config: dict, callbacks: list) -> list:
        """The callbacks to build the trainer with (default: `callbacks` unchanged)."""
        return callbacks

    def trainer_config(self) -> dict:
        """The instantiated `trainer` section of the config ({} when there is none)."""
        return self._get(self.config_init, "trainer", default={})

    def resume_config(self, ckpt_path: str, shown: str | None = None) -> Any:
        """The parsed config with the model config saved in the checkpoint file `ckpt_path` in place of the
        command line's, after `check_resume_config` and `check_resume_data` compared the two.

        Args:
            ckpt_path: the checkpoint file.
            shown: how the messages name it (default: `ckpt_path`).
        """
        subcommand = self.config["subcommand"]
        weights_only = self.config[subcommand].get("weights_only")
        checkpoint = self.read_ckpt_path(ckpt_path, weights_only is not False)
        shown = shown or ckpt_path
        config = self.config
        hparams = dict(checkpoint.get("hyper_parameters") or {})
        hparams.pop(INSTANTIATOR_KEY, None)
        command_line = flat_config(config[subcommand].get("model"))
        if hparams:
            if "_class_path" in hparams:
                hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
            config = self.parser.parse_object({subcommand: {"model": hparams}}, config)
            self.check_resume_config(shown, command_line, flat_config(config[subcommand].get("model")))
        saved_data = checkpoint.get("datamodule_hyper_parameters")
        data = config[subcommand].get("data")
        if isinstance(saved_data, dict) and saved_data and data is not None:
            saved = {k: v for k, v in saved_data.items() if not k.startswith("_")}  # _class_path, _instantiator
            if "_class_path" in saved_data:
                saved = {"class_path": saved_data["_class_path"], "init_args": saved}
            self.check_resume_data(shown, flat_config(data), flat_config(saved))
        return config

    def _parse_ckpt_path(self) -> None:
        # Lightning's own version always unpickles with weights_only=True, so `--weights_only false`
        # could not reach a file that needs it; this one reads the file with `read_ckpt_path`, and also
        # reads a path that is no file (so `read_ckpt_path` reports a folder or a missing file).
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if ckpt_path and names_a_file(str(ckpt_path)):
            self.config = self.resume_config(str(ckpt_path))

    def _instantiate_trainer(self, config: dict, callbacks: list) -> Trainer:
        return super()._instantiate_trainer(config, self.select_callbacks(config, callbacks))
