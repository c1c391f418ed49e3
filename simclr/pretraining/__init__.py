"""Pretraining from configs: `run_fit(args)` runs `simclr fit` (LightningCLI over the methods and the data
modules, with the run-safety defaults) from Python and returns the CLI object (its `.model`, `.datamodule`,
`.trainer`)."""

from simclr.pretraining.lightning_cli import SimCLRCLI, run_fit

__all__ = ["SimCLRCLI", "run_fit"]
