"""The `simclr` command: `fit` (LightningCLI), `probe`, `export` and `compare-augs`.

    simclr fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml
    simclr probe --ckpt runs/demo/checkpoints/last.ckpt
    simclr export --ckpt runs/demo/checkpoints/last.ckpt --out backbone.pt
    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --from h --out_dir runs/ft
    simclr distill --teacher runs/ft/checkpoints/simclr-from_h-0.01-seed0.ckpt --out_dir runs/ft
    simclr compare-augs --config configs/fashion_mnist.yaml --strategies configs/strategies/pairs_fashion_mnist.yaml
    simclr compare --config configs/fashion_mnist.yaml --methods configs/methods/simclr.yaml configs/methods/byol.yaml
    simclr configs                      # the shipped configs, each usable by name: --config fashion_mnist

User mistakes end with one line on stderr, `simclr: error: <what was wrong>; <the fix>`, and exit status 1
(simclr.errors); SIMCLR_DEBUG=1 shows their traceback. Bugs keep their traceback.
"""

import os
import sys
import warnings

import jsonargparse
from lightning.pytorch.utilities.exceptions import SIGTERMException

from simclr.cli.compare import compare
from simclr.cli.compare_augs import compare_augs
from simclr.cli.distill import run_distill
from simclr.cli.export import export
from simclr.cli.finetune import run_finetune
from simclr.cli.probe import probe
from simclr.errors import DEBUG_ENV, user_message
from simclr.pretraining import run_fit
from simclr.safety.sigterm import SIGTERM_EXIT_STATUS, sigterm_message
from simclr.shipped_configs import configs_table, resolve_config_args
from simclr.warning_filters import quiet_known_warnings

CHECKPOINT_COMMANDS = (probe, export)  # options and help come from their signatures and docstrings


def run_command(args: list[str]) -> object:
    """`probe` / `export` through jsonargparse."""
    return jsonargparse.CLI(list(CHECKPOINT_COMMANDS), args=args, as_positional=False, exit_on_error=False)


def main() -> None:
    """Console entry point `simclr` (returns None so the exit status is 0 on success).

    A user mistake (simclr.errors.user_message finds one in the exception chain) prints one line and
    exits with status 1; anything else is a bug and keeps its traceback.
    """
    args = resolve_config_args(sys.argv[1:])
    quiet_known_warnings()
    try:
        if args and args[0] == "configs":
            print(configs_table())
        elif args and args[0] in {f.__name__ for f in CHECKPOINT_COMMANDS}:
            run_command(args)
        elif args and args[0] in ("finetune", "distill"):  # own parsers: `finetune --from` is a Python keyword
            (run_finetune if args[0] == "finetune" else run_distill)(args[1:])
        elif args and args[0] == "compare-augs":
            compare_augs(args[1:])
        elif args and args[0] == "compare":
            compare(args[1:])
        else:
            if args != sys.argv[1:]:  # a config given by name: LightningCLI parses the resolved list
                warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended to run")
            run_fit(None if args == sys.argv[1:] else args)
    except SIGTERMException as stop:  # a SystemExit with status 0: report it and fail
        print(f"simclr: error: {sigterm_message(stop)}", file=sys.stderr)
        sys.exit(SIGTERM_EXIT_STATUS)
    except Exception as error:
        message = user_message(error, args[0] if args and not args[0].startswith("-") else "fit")
        if message is None or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"simclr: error: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
