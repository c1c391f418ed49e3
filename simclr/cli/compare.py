r"""`simclr compare`: several methods trained with one budget and probed with one recipe.

    simclr compare --config configs/fashion_mnist.yaml \
        --methods configs/methods/simclr.yaml configs/methods/moco_v2.yaml configs/methods/byol.yaml \
        configs/methods/patches.yaml configs/methods/multicrop.yaml \
        --max_steps 2000 --seeds 0 1 2 --out_dir runs/methods [--data.init_args.root DIR]

    simclr compare --experiment configs/experiments/temperature.yaml --out_dir runs/experiments/temperature

`--config` (repeatable) is the `simclr fit` config every method stacks on (encoder, head, augment, optimiser,
data); each `--methods` YAML (model options only) is stacked on it as a further `--config`, and names the run
by its file name. Arguments starting with `--model.`, `--data.` or `--seed_everything` override the fit
config; its `trainer` section is not used (the budget options set the run), so `--trainer.*` is an error.
`--experiment` names a YAML with the configs, seeds, budget and variants instead
(simclr.ablation.experiments). Each method is pretrained on the same
images in the same order from the same seed, then h of the frozen encoder is probed (linear top-1, kNN
top-1 on the test split) and the wall time per training step is measured. Writes methods.csv, methods.json,
methods.md and methods.png into `--out_dir`, and logs the chart to TensorBoard there (`tensorboard/`).
Before any work the output folder is checked (`simclr.safety.output_paths`): none of its files may be
an input, and an existing one is replaced only when simclr compare wrote it, or with `--overwrite true`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import jsonargparse

from simclr.ablation.experiments import Experiment, load_experiment, variant_files, write_variant_configs
from simclr.ablation.method_runs import compare_methods
from simclr.ablation.method_table import (
    format_method_table,
    log_methods_to_tensorboard,
    method_bar_chart,
    write_method_rows,
)
from simclr.ablation.names import check_names
from simclr.ablation.runner import Budget
from simclr.ablation.yaml_files import read_mapping
from simclr.cli.compare_augs import build_from_fit_config, fit_inputs, split_fit_args
from simclr.errors import UserError
from simclr.safety.output_paths import check_output_folder, record_outputs
from simclr.safety.run_folder import writable_folder


def parser() -> jsonargparse.ArgumentParser:
    """The options of `simclr compare` other than the fit config (see the module docstring)."""

    class HelpFormatter(argparse.RawDescriptionHelpFormatter, jsonargparse.DefaultHelpFormatter):
        """Keeps the line breaks of the description (the usage example)."""

    p = jsonargparse.ArgumentParser(
        prog="simclr compare", description=__doc__, formatter_class=HelpFormatter, exit_on_error=False
    )
    p.add_argument("--methods", type=str, nargs="+", default=None, help="method YAMLs stacked on --config")
    p.add_argument(
        "--experiment", type=str | None, default=None,
        help="an experiment YAML (configs/experiments/): its configs, variants, seeds and budget replace --config, "
        "--methods, --seeds and the budget options",
    )  # fmt: skip
    p.add_argument("--out_dir", type=str, default="runs/methods", help="folder for the table, chart and TensorBoard")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per method and seed")
    p.add_argument("--max_steps", type=int, default=-1, help="optimiser steps per run (-1: --epochs sets the length)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the pretraining images (without --max_steps)")
    p.add_argument("--train_images", type=int | None, default=None, help="pretrain on a fixed subset of this many")
    p.add_argument("--batch_size", type=int | None, default=None, help="pretraining batch (default: the data's)")
    p.add_argument("--probe_images", type=int | None, default=10000, help="labelled images the probes learn from")
    p.add_argument("--test_images", type=int | None, default=None, help="first test images probed (default: all)")
    p.add_argument("--probe_max_iter", type=int, default=Budget.probe_max_iter, help="L-BFGS iterations per probe")
    p.add_argument("--knn_k", type=int, default=200, help="neighbours of the kNN probe")
    p.add_argument("--baselines", type=bool, default=True, help="add rows random_h (untrained encoder) and pixels")
    p.add_argument("--accelerator", type=str, default="auto", help="Lightning accelerator of the pretraining runs")
    p.add_argument("--precision", type=str | None, default=None, help="Lightning precision, e.g. bf16-mixed on a GPU")
    p.add_argument(
        "--overwrite", type=bool, default=False, help="replace files in --out_dir simclr compare did not write"
    )
    p.add_argument(
        "--trust_files", type=bool, default=False,
        help="build any class the experiment and strategies files name (default: only the listed ones); only for "
        "files you trust",
    )  # fmt: skip
    return p


OUTPUTS = ("methods.csv", "methods.json", "methods.md", "methods.png")  # in --out_dir, besides tensorboard/
BASELINES = {"random_h": "pass --baselines false", "pixels": "pass --baselines false"}  # rows --baselines adds
BUDGET_OPTIONS = ("seeds", "max_steps", "epochs", "train_images", "batch_size", "probe_images", "test_images",
                  "probe_max_iter")  # fmt: skip


def compare(args: list[str]) -> Path:
    """Parse `args`, train and probe every method (or experiment variant), write the table and chart; returns
    the path of methods.json."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fit_args, rest = split_fit_args(args)
    options = parser().parse_args(rest)  # --help prints the options and exits here
    for name, value in (("knn_k", options.knn_k), ("probe_max_iter", options.probe_max_iter)):
        if value < 1:
            raise UserError(f"--{name} {value} is below 1; pass --{name} 1 or more")
    out = Path(options.out_dir)
    trainer_args = [arg for arg in fit_args if arg.startswith("--trainer.")]
    if trainer_args:
        raise UserError(f"{trainer_args[0]} has no effect on simclr compare; set the run with --max_steps/--epochs")
    reserved = BASELINES if options.baselines else {}
    inputs = fit_inputs(fit_args)
    if options.experiment:
        experiment = check_experiment_options(options, rest)
        check_names([v.name for v in experiment.variants], "variant", options.experiment, reserved)
        fit_args = [arg for config in experiment.configs for arg in ("--config", config)] + fit_args
        inputs += [("--experiment", options.experiment), *(("its config", c) for c in experiment.configs)]
        outputs = [*OUTPUTS, *variant_files(experiment).values()]
        check_outputs(out, outputs, inputs, options.overwrite)
        methods, seeds, budget = write_variant_configs(experiment, out), experiment.seeds, experiment.budget
        budgets, probe_z = {v.name: v.budget for v in experiment.variants}, experiment.probe_z
    else:
        methods, budget = method_files(options, fit_args, reserved), budget_of(options)
        if len(set(options.seeds)) != len(options.seeds):
            raise UserError(f"--seeds {options.seeds} repeat a seed; give each seed once")
        check_outputs(out, OUTPUTS, [*inputs, *(("--methods", m) for m in methods.values())], options.overwrite)
        seeds, budgets, probe_z = options.seeds, None, False
    builders, datamodule = {}, None
    for name, path in methods.items():
        build, data = build_from_fit_config(with_method(fit_args, str(path)))
        builders[name], datamodule = build, datamodule or data
    rows = compare_methods(builders, datamodule, budget, seeds, options.knn_k, options.accelerator, options.precision,
                           out, baselines=options.baselines, budgets=budgets, probe_z=probe_z)  # fmt: skip
    csv_path, json_path, md_path = write_method_rows(rows, out)
    figure = method_bar_chart(rows, out / "methods.png")
    log_methods_to_tensorboard(rows, figure, out / "tensorboard")
    print(format_method_table(rows))
    print(f"wrote {csv_path}, {json_path}, {md_path}, {out / 'methods.png'} and {out / 'tensorboard'}")
    return json_path


def check_outputs(out: Path, names, inputs, overwrite: bool) -> None:
    """The output folder and the files simclr compare writes there, checked and recorded before any work."""
    check_output_folder(out, names, inputs, "--out_dir", "compare", overwrite)
    writable_folder(out, "--out_dir")
    record_outputs(out, names, "compare")


def budget_of(options) -> Budget:
    """The run length and probe sizes from the command-line options; a one-line UserError names the option."""
    try:
        return Budget(epochs=options.epochs, max_steps=options.max_steps, train_images=options.train_images,
                      batch_size=options.batch_size, probe_images=options.probe_images,
                      test_images=options.test_images, probe_max_iter=options.probe_max_iter)  # fmt: skip
    except UserError as e:
        raise UserError(f"--{e}") from None


def method_files(options, fit_args: list[str], reserved: dict[str, str]) -> dict[str, Path]:
    """name -> method YAML of `--methods`, checked: files that exist, distinct names, model options only."""
    if "--config" not in fit_args:
        raise UserError("simclr compare needs --config <simclr fit config>, e.g. --config configs/fashion_mnist.yaml")
    if not options.methods:
        raise UserError("simclr compare needs --methods (method YAMLs) or --experiment (configs/experiments/*.yaml)")
    missing = [m for m in options.methods if not Path(m).is_file()]
    if missing:
        raise UserError(f"--methods {missing[0]} is not a file; pass method YAMLs, e.g. configs/methods/byol.yaml")
    names = [Path(m).stem for m in options.methods]
    if len(set(names)) != len(names):
        raise UserError(f"--methods names {names} repeat; give each method config its own file name")
    check_names(names, "method", "--methods", reserved)
    for path in options.methods:
        what = "a method config (`model:` options stacked on --config)"
        unused = sorted(set(read_mapping(path, what, "simclr compare --methods", METHOD_EXAMPLE)) - {"model"}, key=str)
        if unused:
            raise UserError(
                f"--methods {path} sets {unused[0]!r}, which simclr compare does not use (the budget options set the "
                f"run, --config the data); keep model options in method YAMLs"
            )
    return {name: Path(path) for name, path in zip(names, options.methods)}


METHOD_EXAMPLE = "configs/methods/byol.yaml"


def check_experiment_options(options, rest: list[str]) -> Experiment:
    """The experiment of `--experiment`; a UserError for an option it would override (--methods, a budget one)."""
    given = [name for name in ("methods", *BUDGET_OPTIONS) if any(a.split("=")[0] == f"--{name}" for a in rest)]
    if given:
        raise UserError(
            f"--{given[0]} has no effect with --experiment, whose file sets the variants, seeds and budget; "
            f"change it in {options.experiment}"
        )
    return load_experiment(options.experiment, options.trust_files)


def with_method(fit_args: list[str], method: str) -> list[str]:
    """The fit arguments with `--config method` after the last `--config` (before the command-line overrides)."""
    last = max(i for i, arg in enumerate(fit_args) if arg == "--config")
    return [*fit_args[: last + 2], "--config", method, *fit_args[last + 2 :]]
