r"""`simclr compare-augs`: the augmentation comparison (`simclr.ablation.runner`) from the command line.

    simclr compare-augs --config configs/fashion_mnist.yaml \
        --strategies configs/strategies/pairs_fashion_mnist.yaml --out runs/compare \
        --budget.train_images 8192 --budget.probe_images 10000 [--data.init_args.root DIR]

`--config` (repeatable) is a `simclr fit` config: its `model` (encoder, head, loss, optimiser, the
augment's normalisation) and `data` are used, its `trainer` section is not (the budget sets the run).
Arguments starting with `--model.`, `--data.`, `--trainer.` or `--seed_everything` override that config
as they would for `simclr fit`. Writes compare.csv, compare.json, heatmap.png (when the strategies hold
ordered pairs) and bars.png into `--out`, and the plots and table to TensorBoard (`tensorboard --logdir OUT`).
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import jsonargparse

from simclr.ablation.plots import bar_chart, pair_heatmap, pair_matrix
from simclr.ablation.results import format_rows, write_rows
from simclr.ablation.runner import Budget, compare, quiet_lightning
from simclr.ablation.strategies import load_strategies, restrict
from simclr.cli.fit import SimCLRCLI, run_cli
from simclr.eval.tensorboard_views import log_figures

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


def build_from_fit_config(fit_args: list[str]):
    """(build_model, datamodule) from `simclr fit` arguments: build_model() returns a fresh SimCLR model."""

    def make_cli() -> SimCLRCLI:
        with quiet_lightning(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            return run_cli([*fit_args, "--trainer.logger", "false"], run=False, save_config_callback=None)

    return (lambda: make_cli().model), make_cli().datamodule


def parser():
    """The options of `simclr compare-augs` other than the fit config (see the module docstring)."""

    class HelpFormatter(argparse.RawDescriptionHelpFormatter, jsonargparse.DefaultHelpFormatter):
        """Keeps the line breaks of the description (the usage example)."""

    p = jsonargparse.ArgumentParser(
        prog="simclr compare-augs", description=__doc__, formatter_class=HelpFormatter, exit_on_error=False
    )
    p.add_argument(
        "--strategies",
        type=str,
        required=True,
        help="strategies YAML (schema: simclr.ablation.strategies.StrategySpec)",
    )
    p.add_argument(
        "--only",
        type=list[str] | None,
        default=None,
        help="keep the strategies made of these blocks only, e.g. [crop,color]",
    )
    p.add_argument("--out", type=str, default="runs/compare", help="folder for compare.csv/json and the plots")
    p.add_class_arguments(Budget, "budget")
    p.add_argument(
        "--one_sided", type=bool, default=True, help="Figure 5 protocol: identity | strategy; false augments both views"
    )
    p.add_argument("--untrained", type=bool, default=True, help="add the row 'untrained': the initial weights, probed")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, batches, subsets, augmentations, probes")
    p.add_argument("--accelerator", type=str, default="auto", help="Lightning accelerator of the pretraining runs")
    p.add_argument("--precision", type=str | None, default=None, help="Lightning precision, e.g. bf16-mixed on a GPU")
    return p


def compare_augs(args: list[str]) -> Path:
    """Parse `args`, run the comparison, write the table and plots; returns the path of compare.json."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fit_args, rest = split_fit_args(args)
    options = parser().parse_args(rest)  # --help prints the options and exits here
    if "--config" not in fit_args:
        raise SystemExit(
            "simclr compare-augs needs --config <simclr fit config>, e.g. --config configs/fashion_mnist.yaml"
        )
    strategies = load_strategies(options.strategies)
    if options.only:
        strategies = restrict(strategies, options.only)
        if not strategies:
            raise SystemExit(f"--only {options.only} keeps no strategy of {options.strategies}; name blocks it defines")
    build_model, datamodule = build_from_fit_config(fit_args)
    budget = Budget(**options.budget.as_dict())
    rows = compare(
        strategies,
        build_model,
        datamodule,
        budget,
        options.one_sided,
        options.seed,
        options.accelerator,
        options.precision,
        out_dir=options.out,
        untrained=options.untrained,
    )
    csv_path, json_path = write_rows(rows, options.out)
    out = Path(options.out)
    figures = {"compare/heatmap": pair_heatmap(rows, out / "heatmap.png")} if pair_matrix(rows)[0] else {}
    figures["compare/bars"] = bar_chart(rows, out / "bars.png")
    log_figures(out / "tensorboard", figures, format_rows(rows))
    print(format_rows(rows))
    print(f"wrote {csv_path}, {json_path} and plots in {out}")
    return json_path
