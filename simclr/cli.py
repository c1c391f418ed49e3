"""The `simclr` command: LightningCLI over the SimCLR module and the image data modules, plus the
checkpoint commands `probe` and `export` (simclr.commands).

    simclr fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml
    simclr fit --config configs/cifar10.yaml --print_config
    simclr fit --config configs/cifar10.yaml --ckpt_path runs/simclr/version_0/checkpoints/last.ckpt
    simclr probe --ckpt runs/demo/checkpoints/last.ckpt
    simclr export --ckpt runs/demo/checkpoints/last.ckpt --out backbone.pt
    simclr compare-augs --config configs/fashion_mnist.yaml --strategies configs/strategies/pairs_fashion_mnist.yaml

User mistakes end with one line on stderr, `simclr: error: <what was wrong>; <the fix>`, and exit status 1
(simclr.errors); SIMCLR_DEBUG=1 shows their traceback. Bugs keep their traceback.
"""

import os
import sys
import warnings
from pathlib import Path

import jsonargparse
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO

from simclr import commands
from simclr.checkpointing import UNREADABLE_ERRORS, AtomicCheckpointIO, ModelCheckpoint, unreadable_checkpoint
from simclr.data import ImageDataModule
from simclr.errors import DEBUG_ENV, user_message
from simclr.guards import NonFiniteLossGuard
from simclr.module import SimCLR
from simclr.resumable import ResumeCallback


class SimCLRCLI(LightningCLI):
    """LightningCLI with SimCLR's defaults: TensorBoard logs and checkpoints under `runs/`, a
    configurable checkpoint callback (last + best by validation loss), LR monitor, rich progress bar;
    for reliable runs: atomic checkpoint writes, RNG states in checkpoints, a non-finite loss guard."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/loss",
                "checkpoint.mode": "min",
                "checkpoint.save_last": True,
                "checkpoint.save_top_k": 1,
                "checkpoint.filename": "best-{epoch}-{step}",
            }
        )

    def _parse_ckpt_path(self) -> None:
        # LightningCLI reads the model config saved in `--ckpt_path` here (it replaces the command line's
        # model config); a truncated or corrupt file gets our one-line error instead of torch's traceback.
        ckpt_path = self.config[self.config.subcommand].get("ckpt_path") if self.config.get("subcommand") else None
        if ckpt_path and Path(ckpt_path).is_file():
            try:
                torch.load(ckpt_path, weights_only=True, map_location="cpu", mmap=True)  # memory-mapped: cheap
            except UNREADABLE_ERRORS as e:
                raise unreadable_checkpoint(ckpt_path, e) from e
        super()._parse_ckpt_path()

    def instantiate_trainer(self, **kwargs) -> Trainer:
        # Rich progress bar by default, unless the config turns progress bars off or names its own
        # (a fixed default callback would clash with `--trainer.enable_progress_bar false`).
        config = self._get(self.config_init, "trainer", default={})
        callbacks = list(config.get("callbacks") or [])
        if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(RichProgressBar())
        if config.get("logger") is not False and not any(isinstance(c, LearningRateMonitor) for c in callbacks):
            callbacks.append(LearningRateMonitor(logging_interval="step"))  # needs a logger: not with `logger: false`
        for kind in (ResumeCallback, NonFiniteLossGuard):  # unless the config names its own
            if not any(isinstance(c, kind) for c in callbacks):
                callbacks.append(kind())
        plugins = config.get("plugins")
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [] if plugins is None else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(callbacks=callbacks, **kwargs)

    def _instantiate_trainer(self, config: dict, callbacks: list) -> Trainer:
        # The `checkpoint` callback is always built from its option group; drop it when the trainer says
        # `enable_checkpointing: false`, which Lightning would otherwise reject as a contradiction.
        if config.get("enable_checkpointing") is False:
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        return super()._instantiate_trainer(config, callbacks)


def quiet_known_warnings() -> None:
    """Hide two warnings that say nothing to our users: the module augments in `on_after_batch_transfer`
    on purpose, and Lightning 2.6's pytree helper warns about an API torch deprecated."""
    warnings.filterwarnings("ignore", message="You have overridden `on_after_batch_transfer`")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


def run_cli(args: list[str] | None = None) -> SimCLRCLI:
    """Parse `args` (default: sys.argv), build model, data and trainer, run the subcommand."""
    quiet_known_warnings()
    torch.set_float32_matmul_precision("high")
    return SimCLRCLI(
        SimCLR,
        ImageDataModule,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"exit_on_error": False},  # a bad option raises, and main() prints one line
        trainer_defaults={
            "default_root_dir": "runs",
            "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "runs", "name": "simclr"}},
        },
        args=args,
    )


def run_command(args: list[str]) -> object:
    """`probe` / `export` through jsonargparse: their signatures and docstrings are the options and help."""
    return jsonargparse.CLI([commands.probe, commands.export], args=args, as_positional=False, exit_on_error=False)


def main() -> None:
    """Console entry point `simclr` (returns None so the exit status is 0 on success).

    A user mistake (simclr.errors.user_message finds one in the exception chain) prints one line and
    exits with status 1; anything else is a bug and keeps its traceback.
    """
    args = sys.argv[1:]
    quiet_known_warnings()
    try:
        if args and args[0] in ("probe", "export"):
            run_command(args)
        elif args and args[0] == "compare-augs":  # simclr.compare_command: augmentation strategies compared
            from simclr.compare_command import compare_augs

            compare_augs(args[1:])
        else:
            run_cli()
    except Exception as error:
        message = user_message(error, args[0] if args and not args[0].startswith("-") else "fit")
        if message is None or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"simclr: error: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
