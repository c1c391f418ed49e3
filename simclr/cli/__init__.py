"""The `simclr` command (`simclr.cli.main`), one module per subcommand."""
