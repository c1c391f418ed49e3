"""The `simclr` command: LightningCLI over the SimCLR module and the image data modules, plus the
checkpoint commands `probe` and `export` (simclr.commands).

    simclr fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml
    simclr fit --config configs/cifar10.yaml --print_config
    simclr fit --config configs/cifar10.yaml --ckpt_path runs/simclr/version_0/checkpoints/last.ckpt
    simclr probe --ckpt runs/demo/checkpoints/last.ckpt
    simclr export --ckpt runs/demo/checkpoints/last.ckpt --out backbone.pt
    simclr compare-augs --config configs/fashion_mnist.yaml --strategies configs/strategies/pairs_fashion_mnist.yaml
"""

import sys
import warnings

import jsonargparse
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from simclr import commands
from simclr.data import ImageDataModule
from simclr.module import SimCLR


class SimCLRCLI(LightningCLI):
    """LightningCLI with SimCLR's defaults: TensorBoard logs and checkpoints under `runs/`, a
    configurable checkpoint callback (last + best by validation loss), LR monitor, rich progress bar."""

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

    def instantiate_trainer(self, **kwargs) -> Trainer:
        # Rich progress bar by default, unless the config turns progress bars off or names its own
        # (a fixed default callback would clash with `--trainer.enable_progress_bar false`).
        config = self._get(self.config_init, "trainer", default={})
        callbacks = list(config.get("callbacks") or [])
        if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(RichProgressBar())
        return super().instantiate_trainer(callbacks=callbacks, **kwargs)


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
        trainer_defaults={
            "default_root_dir": "runs",
            "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "runs", "name": "simclr"}},
            "callbacks": [LearningRateMonitor(logging_interval="step")],
        },
        args=args,
    )


def run_command(args: list[str]) -> object:
    """`probe` / `export` through jsonargparse: their signatures and docstrings are the options and help."""
    return jsonargparse.CLI([commands.probe, commands.export], args=args, as_positional=False)


def main() -> None:
    """Console entry point `simclr` (returns None so the exit status is 0 on success)."""
    args = sys.argv[1:]
    quiet_known_warnings()
    if args and args[0] in ("probe", "export"):
        run_command(args)
    elif args and args[0] == "compare-augs":  # simclr.compare_command: augmentation strategies compared
        from simclr.compare_command import compare_augs

        compare_augs(args[1:])
    else:
        run_cli()


if __name__ == "__main__":
    main()
