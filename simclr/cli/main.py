"""The `simclr` command: `fit` (LightningCLI) and the library functions behind the other commands.

    simclr fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml
    simclr probe --ckpt runs/demo/checkpoints/last.ckpt
    simclr export --ckpt runs/demo/checkpoints/last.ckpt --out backbone.pt
    simclr finetune --ckpt runs/demo/checkpoints/last.ckpt --label_fraction 0.01 --from h --out_dir runs/ft
    simclr distill --ckpt runs/ft/checkpoints/simclr-from_h-0.01-seed0.ckpt --out_dir runs/ft
    simclr compare-augs --config fashion_mnist --strategies configs/strategies/pairs_fashion_mnist.yaml
    simclr compare --config configs/fashion_mnist.yaml --methods configs/methods/simclr.yaml configs/methods/byol.yaml
    simclr embed --ckpt runs/demo/checkpoints/last.ckpt --data /data/photos --out_dir embeddings
    simclr neighbours --embeddings embeddings --query /data/photos/cat.jpg --k 10
    simclr captions --out_dir data/fashion_mnist_captions
    simclr tokenizer --manifest /data/pairs/train.csv --vocab_size 8192
    simclr zeroshot --ckpt runs/clip/checkpoints/last.ckpt --data fashion_mnist_test.yaml --classes classes.txt
    simclr configs                      # the shipped configs, each usable by name: --config fashion_mnist

User mistakes end with one line on stderr, `simclr: error: <what was wrong>; <the fix>`, and exit status 1
(simclr.errors); SIMCLR_DEBUG=1 shows their traceback. Bugs keep their traceback.
"""

import inspect
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from lightning.pytorch.utilities.exceptions import SIGTERMException

from simclr.ablation import compare as compare_module
from simclr.ablation import compare_augs as compare_augs_module
from simclr.ablation.compare import compare
from simclr.ablation.compare_augs import compare_augs
from simclr.ablation.fit_configs import split_fit_args
from simclr.captions import make_captions as make_captions_module
from simclr.captions import make_tokenizer as make_tokenizer_module
from simclr.captions.make_captions import captions
from simclr.captions.make_tokenizer import tokenizer
from simclr.cli.parsing import FIT_ARGS, parse_command
from simclr.embedding.embed import embed
from simclr.embedding.neighbours import neighbours
from simclr.errors import DEBUG_ENV, user_message
from simclr.eval import zeroshot_checkpoint as zeroshot_module
from simclr.eval.probe_checkpoint import probe
from simclr.eval.zeroshot_checkpoint import zeroshot
from simclr.finetuning.distill import distill
from simclr.finetuning.finetune import finetune
from simclr.loading.export import export
from simclr.pretraining import run_fit
from simclr.safety.sigint import exit_status_of_sigint
from simclr.safety.sigterm import SIGTERM_EXIT_STATUS, sigterm_message
from simclr.shipped_configs import configs_table, resolve_config_args
from simclr.warning_filters import quiet_known_warnings

# Every command but `fit`: the library function it runs (options and help from its signature and docstring),
# and the module docstring that holds its usage examples, if any.
COMMANDS: dict[str, tuple[Callable[..., Path], str | None]] = {
    "probe": (probe, None),
    "export": (export, None),
    "finetune": (finetune, None),
    "distill": (distill, None),
    "compare": (compare, compare_module.__doc__),
    "compare-augs": (compare_augs, compare_augs_module.__doc__),
    "embed": (embed, None),
    "neighbours": (neighbours, None),
    "captions": (captions, make_captions_module.__doc__),
    "tokenizer": (tokenizer, make_tokenizer_module.__doc__),
    "zeroshot": (zeroshot, zeroshot_module.__doc__),
}


def run_command(args: list[str]) -> Path:
    """`simclr COMMAND ARGS` for a command of COMMANDS; Ctrl+C stops a training run with a resumable last.ckpt
    and exit status 130."""
    name, rest = args[0], list(args[1:])
    function, module_doc = COMMANDS[name]
    takes_fit_args = FIT_ARGS in inspect.signature(function).parameters
    fit_args, rest = split_fit_args(rest) if takes_fit_args else ([], rest)
    kwargs = parse_command(function, f"simclr {name}", rest, module_doc)
    if takes_fit_args:
        kwargs[FIT_ARGS] = fit_args
    with exit_status_of_sigint():
        return function(**kwargs)


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
        elif args and args[0] in COMMANDS:
            run_command(args)
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
