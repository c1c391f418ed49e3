"""`simclr fit` from Python (`run_fit(args)`): LightningCLI over the self-supervised methods and the image data modules.

    simclr fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml
    simclr fit --config configs/cifar10.yaml --print_config
    simclr fit --config configs/cifar10.yaml --ckpt_path runs/simclr/version_0/checkpoints/last.ckpt
    simclr fit --config configs/fashion_mnist.yaml --config configs/methods/moco_v2.yaml

`model.class_path` names the method (any `simclr.methods.base.ViewMethod`: SimCLR, MoCo, BYOL); a config
without one means `simclr.methods.SimCLR`, so a `model:` section of init args alone trains SimCLR.

Defaults added to LightningCLI's: TensorBoard logs and checkpoints under `runs/`, a configurable
checkpoint callback (last + best by validation loss), LR monitor, a TensorBoard grid of augmented views, rich
progress bar; for reliable runs: atomic checkpoint writes, RNG states and the data position in checkpoints, a
non-finite loss guard.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities import rank_zero_only

from augmentations.config_checks import check_augment_config
from simclr.data.datamodules import ImageDataModule
from simclr.errors import UserError
from simclr.methods.base import ViewMethod
from simclr.pretraining.stacked_configs import check_view_strategies
from simclr.safety.checkpoint_files import AtomicCheckpointIO
from simclr.safety.fit_checks import check_run_length
from simclr.safety.lightning_internals import CLIHooks, SaveLastEveryNSteps
from simclr.safety.loss_guard import NonFiniteLossGuard
from simclr.safety.resume import ResumeCallback
from simclr.safety.resume_checks import check_resumable, check_resume_data
from simclr.safety.run_folder import RunFolderLock, check_new_run, last_checkpoint
from simclr.safety.safe_loading import read_checkpoint_file
from simclr.safety.sigterm import SaveOnSigterm
from simclr.shipped_configs import resolve_config_args
from simclr.training.view_grid import ViewPairGrid
from simclr.warning_filters import quiet_known_warnings

DEFAULT_METHOD = "simclr.methods.SimCLR"


class SimCLRCLI(CLIHooks):
    """LightningCLI with SimCLR's defaults (see the module docstring)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.set_defaults({"model": {"class_path": DEFAULT_METHOD}})  # a `model:` without class_path is SimCLR
        parser.add_lightning_class_args(SaveLastEveryNSteps, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/loss",
                "checkpoint.mode": "min",
                "checkpoint.save_last": True,
                "checkpoint.save_top_k": 1,
                "checkpoint.filename": "best-{epoch}-{step}",
            }
        )

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        given = sys.argv[1:] if args is None else args
        if isinstance(given, list):  # stacked configs must not drop a view strategy (before parsing merges them)
            check_view_strategies([str(a) for a in given])
        super().parse_arguments(parser, args)

    def before_instantiate_classes(self) -> None:
        # Augmentation options by their full key, before kornia's or our constructors see them.
        config = self.config[self.subcommand] if self.subcommand else self.config
        model = config.get("model")
        model = model.as_dict() if hasattr(model, "as_dict") else model
        if isinstance(model, dict):
            check_augment_config(model.get("init_args", model) if "class_path" in model else model, "model")

    def read_ckpt_path(self, path: str, weights_only: bool) -> dict:
        # A truncated, corrupt, unsafe or foreign file gets our one-line error, before anything is written.
        checkpoint = read_checkpoint_file(path, weights_only)
        check_resumable(checkpoint, path)
        return checkpoint

    def instantiate_trainer(self, **kwargs) -> Trainer:
        # Rich progress bar by default, unless the config turns progress bars off or names its own
        # (a fixed default callback would clash with `--trainer.enable_progress_bar false`).
        config = self.trainer_config()
        callbacks = list(config.get("callbacks") or [])
        if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(RichProgressBar())
        if config.get("logger") is not False and not any(isinstance(c, LearningRateMonitor) for c in callbacks):
            callbacks.append(LearningRateMonitor(logging_interval="step"))  # needs a logger: not with `logger: false`
        if config.get("logger") is not False and not any(isinstance(c, ViewPairGrid) for c in callbacks):
            callbacks.append(ViewPairGrid())  # the augmented views as a TensorBoard image
        for kind in (ResumeCallback, NonFiniteLossGuard, SaveOnSigterm):  # unless the config names its own
            if not any(isinstance(c, kind) for c in callbacks):
                callbacks.append(kind())
        plugins = config.get("plugins")
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [] if plugins is None else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(callbacks=callbacks, **kwargs)

    def check_resume_data(self, path: str, command_line: dict, checkpoint: dict) -> None:
        check_resume_data(path, command_line, checkpoint)

    def check_resume_config(self, path: str, command_line: dict, checkpoint: dict) -> None:
        # A resume runs the checkpoint's model config; an option the command line changed would be ignored.
        # Options are named as users write them: `model.optimizer...` for the method's `init_args.optimizer...`.
        command_line = {k.removeprefix("init_args."): v for k, v in command_line.items()}
        checkpoint = {k.removeprefix("init_args."): v for k, v in checkpoint.items()}
        changed = [k for k in command_line if k in checkpoint and command_line[k] != checkpoint[k]]
        changed += [k for k in command_line.keys() ^ checkpoint.keys()]
        if changed:
            first = changed[0]
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            raise UserError(
                f"--ckpt_path {path} was trained with model.{first}={checkpoint.get(first)!r}, but this command sets "
                f"{command_line.get(first)!r}{more}; a resume runs the checkpoint's own model options, so drop the "
                f"changed options to resume, or drop --ckpt_path to start a new run with them"
            )

    def before_fit(self) -> None:
        """Before any work: the run trains at least one step; `--ckpt_path last` must exist and pass the checks an
        explicit checkpoint does; a new run gets folders no earlier run holds, locked to it."""
        trainer = self.trainer
        checkpoint = trainer.checkpoint_callback if isinstance(trainer.checkpoint_callback, ModelCheckpoint) else None
        check_data = getattr(self.model, "check_data", None)
        if callable(check_data):  # a method's own data checks (ImageText: the tokenizer), before anything is written
            check_data(self.datamodule)
        if trainer.fast_dev_run:
            return  # a smoke run writes nothing, so it needs no folder of its own
        check_run_length(trainer.max_steps, trainer.max_epochs, trainer.limit_train_batches)
        ckpt_dir = None
        if checkpoint is not None:
            logged = Path(trainer.log_dir) if trainer.logger is not None else Path(trainer.default_root_dir)
            ckpt_dir = Path(checkpoint.dirpath) if checkpoint.dirpath else logged / "checkpoints"
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        if ckpt_path == "last":
            last = last_checkpoint(ckpt_dir) if ckpt_dir is not None else None
            if last is None:
                raise UserError(
                    f"--ckpt_path last found no last.ckpt in {ckpt_dir or 'any folder (checkpointing is off)'}; pass "
                    f"the run's --checkpoint.dirpath (or the path of a .ckpt), or drop --ckpt_path to start a new run"
                )
            self.resume_config(str(last), shown=f"last ({last})")  # the same checks as an explicit path
        if rank_zero_only.rank != 0:  # one lock per run: DDP's other processes write through rank 0
            return
        folders = [f for f in (ckpt_dir, Path(trainer.log_dir) if trainer.logger is not None else None) if f]
        lock = RunFolderLock(folders)
        if not ckpt_path:
            try:
                check_new_run(ckpt_dir, Path(trainer.log_dir) if trainer.log_dir else None)
            except UserError:
                lock.release()
                raise
        trainer.callbacks.append(lock)  # released when the fit ends or fails

    def select_callbacks(self, trainer_config: dict, callbacks: list) -> list:
        # The `checkpoint` callback is always built from its option group; drop it when the trainer says
        # `enable_checkpointing: false` (Lightning would reject the contradiction) or `fast_dev_run`
        # (a smoke run writes no checkpoint anywhere).
        if trainer_config.get("enable_checkpointing") is False or trainer_config.get("fast_dev_run"):
            callbacks = [c for c in callbacks if not isinstance(c, SaveLastEveryNSteps)]
        return callbacks


NULLS = ("null", "Null", "NULL", "~")  # YAML's spellings of None


def model_nulls_as_json(args: list[str]) -> list[str]:
    """`--model.a.b null` (or `=null`) rewritten as `--model {"a": {"b": null}}`, the same override.

    With the method chosen by class_path (subclass mode), jsonargparse 4.x re-parses a nested model
    override from its value's `str()`, and `str(None)` is "None", which no type accepts; a JSON dict merges
    into the model config like a stacked YAML file, with every other value kept.
    """
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        key, eq, value = arg.partition("=")
        if not eq and i + 1 < len(args):
            value = args[i + 1]
        if key.startswith("--model.") and value in NULLS:
            nested: dict | None = None
            for part in reversed(key.removeprefix("--model.").split(".")):
                nested = {part: nested}
            out += ["--model", json.dumps(nested)]
            i += 1 if eq else 2
        else:
            out.append(arg)
            i += 1
    return out


def run_fit(args: list[str] | None = None, **kwargs) -> SimCLRCLI:
    """`simclr fit` from Python: parse `args` (default: sys.argv; e.g. ["fit", "--config", "fashion_mnist"], shipped
    configs by name), build model, data and trainer, run the subcommand; kwargs: SimCLRCLI's (`run=False`
    builds without training). Returns the CLI, whose `.model`, `.datamodule` and `.trainer` are the run's."""
    quiet_known_warnings()
    if isinstance(args, list):  # from Python: shipped configs by name, as the command resolves them
        args = resolve_config_args([str(a) for a in args])
    given = sys.argv[1:] if args is None else args
    if any(arg.startswith("--model.") for arg in given) and model_nulls_as_json(given) != given:
        args = model_nulls_as_json(given)
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended to run from within Python")
    torch.set_float32_matmul_precision("high")
    options = dict(
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"exit_on_error": False},  # a bad option raises, and main() prints one line
        trainer_defaults={
            "default_root_dir": "runs",
            "logger": {
                "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                "init_args": {"save_dir": "runs", "name": "simclr"},
            },
        },
    )
    return SimCLRCLI(ViewMethod, ImageDataModule, args=args, **{**options, **kwargs})
