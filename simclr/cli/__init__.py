"""The `simclr` command (`simclr.cli.main`): `fit` is LightningCLI (`simclr.pretraining`); every other
subcommand is a library function parsed from its signature and docstring (`simclr.cli.parsing`)."""
