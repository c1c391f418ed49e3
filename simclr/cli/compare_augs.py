r"""`simclr compare-augs`: the augmentation comparison (`simclr.ablation.runner`) from the command line.

    simclr compare-augs --config configs/fashion_mnist.yaml \
        --strategies configs/strategies/pairs_fashion_mnist.yaml --out runs/compare --seeds 0 1 \
        --budget.train_images 8192 --budget.probe_images 10000 [--data.init_args.root DIR]
    simclr compare-augs --experiment configs/experiments/augmentation_grid.yaml --out runs/grid

`--config` (repeatable) is a `simclr fit` config: its `model` (encoder, head, loss, optimiser, the
augment's normalisation) and `data` are used, its `trainer` section is not (the budget sets the run).
Arguments starting with `--model.`, `--data.`, `--trainer.` or `--seed_everything` override that config
as they would for `simclr fit`. Writes compare.csv, compare.json, heatmap.png (when the strategies hold
ordered pairs) and bars.png into `--out`, and the plots and table to TensorBoard (`tensorboard --logdir OUT`).
compare.json holds one row per strategy and seed; table.md, the plots and TensorBoard show the mean over the
seeds (table.md also each seed and the standard deviation). With several seeds each seed's rows are also
written to OUT/seed<N>/ as they finish. `--experiment` reads the configs, strategies, seeds and budget from a
file (`simclr.ablation.augment_experiment`); `--data.*` / `--model.*` overrides still apply. Before any work
the output folder is checked (`simclr.safety.output_paths`): none of its files may be an input, and an
existing one is replaced only when simclr compare-augs wrote it, or with `--overwrite true`.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import jsonargparse

from simclr.ablation.augment_experiment import load_augment_experiment
from simclr.ablation.names import check_names
from simclr.ablation.plots import bar_chart, format_pair_table, pair_heatmap, pair_matrix
from simclr.ablation.results import UNTRAINED, CompareRow, format_rows, format_seed_table, mean_over_seeds, write_rows
from simclr.ablation.runner import Budget, compare, quiet_lightning
from simclr.ablation.strategies import load_strategies, restrict
from simclr.errors import UserError
from simclr.eval.figures import log_figures
from simclr.pretraining.lightning_cli import SimCLRCLI, run_fit
from simclr.safety.output_paths import check_output_folder, record_outputs
from simclr.safety.run_folder import writable_folder

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


def fit_inputs(fit_args: list[str]) -> list[tuple[str, str]]:
    """("--config", path) for every fit config in the fit arguments (the files an output must not replace)."""
    configs = [value for arg, value in zip(fit_args, fit_args[1:]) if arg == "--config"]
    configs += [arg.split("=", 1)[1] for arg in fit_args if arg.startswith("--config=")]
    return [("--config", config) for config in configs]


def build_from_fit_config(fit_args: list[str]):
    """(build_model, datamodule) from `simclr fit` arguments: build_model() returns a fresh SimCLR model."""

    def make_cli() -> SimCLRCLI:
        with quiet_lightning(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            return run_fit([*fit_args, "--trainer.logger", "false"], run=False, save_config_callback=None)

    return (lambda: make_cli().model), make_cli().datamodule


def parser():
    """The options of `simclr compare-augs` other than the fit config (see the module docstring)."""

    class HelpFormatter(argparse.RawDescriptionHelpFormatter, jsonargparse.DefaultHelpFormatter):
        """Keeps the line breaks of the description (the usage example)."""

    p = jsonargparse.ArgumentParser(
        prog="simclr compare-augs", description=__doc__, formatter_class=HelpFormatter, exit_on_error=False
    )
    p.add_argument(
        "--experiment",
        type=str | None,
        default=None,
        help="an augmentation experiment YAML (configs/experiments/): its configs, strategies, only, seeds, budget "
        "and one_sided replace those options",
    )
    p.add_argument(
        "--strategies",
        type=str | None,
        default=None,
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
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="one run per strategy and seed; the seed fixes weights, batches, subsets, augmentations and probes",
    )
    p.add_argument("--accelerator", type=str, default="auto", help="Lightning accelerator of the pretraining runs")
    p.add_argument("--precision", type=str | None, default=None, help="Lightning precision, e.g. bf16-mixed on a GPU")
    p.add_argument(
        "--overwrite", type=bool, default=False, help="replace files in --out simclr compare-augs did not write"
    )
    p.add_argument(
        "--trust_files", type=bool, default=False,
        help="build any class the experiment and strategies files name (default: only the listed ones); only for "
        "files you trust",
    )  # fmt: skip
    return p


OUTPUTS = ("compare.csv", "compare.json", "table.md", "heatmap.png", "bars.png")  # in --out, besides tensorboard/
SEED_OUTPUTS = ("compare.csv", "compare.json")  # in --out/seed<N>/ with several seeds
EXPERIMENT_OPTIONS = ("--strategies", "--only", "--seeds", "--budget", "--one_sided")


def compare_augs(args: list[str]) -> Path:
    """Parse `args`, run the comparison for every seed, write the tables and plots; returns the path of compare.json."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fit_args, rest = split_fit_args(args)
    options = parser().parse_args(rest)  # --help prints the options and exits here
    fit_args, strategies, seeds, budget, one_sided, inputs = resolve(options, rest, fit_args)
    out = Path(options.out)
    outputs = [*OUTPUTS, *(f"seed{seed}/{name}" for seed in seeds if len(seeds) > 1 for name in SEED_OUTPUTS)]
    check_output_folder(out, outputs, inputs, "--out", "compare-augs", options.overwrite)
    writable_folder(out, "--out")
    record_outputs(out, outputs, "compare-augs")
    build_model, datamodule = build_from_fit_config(fit_args)
    rows = []
    for seed in seeds:
        rows += compare(
            strategies,
            build_model,
            datamodule,
            budget,
            one_sided,
            seed,
            options.accelerator,
            options.precision,
            out_dir=out if len(seeds) == 1 else out / f"seed{seed}",
            untrained=options.untrained,
        )
    return write_outputs(rows, out)


def resolve(options, rest: list[str], fit_args: list[str]):
    """(fit arguments, strategies, seeds, budget, one_sided, input files) from the options or the `--experiment`
    file, checked."""
    try:
        budget = Budget(**options.budget.as_dict())
    except UserError as e:
        raise UserError(f"--budget.{e}") from None
    inputs = fit_inputs(fit_args)
    strategies_file, only, seeds, one_sided = options.strategies, options.only, options.seeds, options.one_sided
    if options.experiment:
        given = [a.split("=")[0] for a in rest if a.split("=")[0].startswith(EXPERIMENT_OPTIONS)]
        if given:
            raise UserError(
                f"{given[0]} has no effect with --experiment, whose file sets the strategies, seeds and budget; "
                f"change it in {options.experiment}"
            )
        experiment = load_augment_experiment(options.experiment, options.trust_files)
        fit_args = [arg for config in experiment.configs for arg in ("--config", config)] + fit_args
        inputs += [("--experiment", options.experiment), *(("its config", c) for c in experiment.configs)]
        strategies_file, only, seeds = experiment.strategies, experiment.only, experiment.seeds
        budget, one_sided = experiment.budget, experiment.one_sided
    if "--config" not in fit_args:
        raise UserError(
            "simclr compare-augs needs --config <simclr fit config>, e.g. --config configs/fashion_mnist.yaml"
        )
    if not strategies_file:
        raise UserError(
            "simclr compare-augs needs --strategies <strategies YAML>, e.g. configs/strategies/pairs_fashion_mnist.yaml"
        )
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {seeds} repeat a seed; give each seed once")
    strategies = load_strategies(strategies_file, options.trust_files)
    if options.untrained:
        check_names([s.name for s in strategies], "strategy", strategies_file, {UNTRAINED: "pass --untrained false"})
    if only:
        defined = list(dict.fromkeys(p for s in strategies for p in s.parts))
        unknown = [b for b in only if b not in defined]
        if unknown:
            raise UserError(
                f"--only names block {unknown[0]!r}, which {strategies_file} does not define; name blocks among "
                f"{', '.join(defined)}"
            )
        strategies = restrict(strategies, only)
        if not strategies:
            raise UserError(f"--only {only} keeps no strategy of {strategies_file}; name blocks it defines")
    return fit_args, strategies, seeds, budget, one_sided, [*inputs, ("--strategies", strategies_file)]


def write_outputs(rows: list[CompareRow], out: Path) -> Path:
    """compare.csv/json (every seed), table.md, heatmap.png (pairs) and bars.png (means), TensorBoard; returns
    the path of compare.json."""
    csv_path, json_path = write_rows(rows, out)
    means = mean_over_seeds(rows)
    seeds = len({r.seed for r in rows})
    figures, tables = {}, []
    if pair_matrix(means)[0]:
        title = f"h linear top-1, mean of {seeds} seed{'s' if seeds > 1 else ''}"
        figures["compare/heatmap"] = pair_heatmap(means, out / "heatmap.png", title=title)
        tables.append(format_pair_table(means))
    figures["compare/bars"] = bar_chart(means, out / "bars.png")
    tables += [format_seed_table(rows), format_rows(means)]
    (out / "table.md").write_text("\n".join(tables))
    log_figures(out / "tensorboard", figures, format_rows(means))
    print("\n".join(tables))
    print(f"wrote {csv_path}, {json_path}, {out / 'table.md'} and plots in {out}")
    return json_path
