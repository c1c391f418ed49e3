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
methods.md, methods.png and runs.jsonl (one data row per run with its seed, metrics, steps, wall time, threads,
versions, device, date and commit: `simclr.ablation.run_data`) into `--out_dir`, and logs the chart to
TensorBoard there (`tensorboard/`). `--data_file docs/results/data/<page>.jsonl` also writes the data rows
there, the file a results page is rendered from (`python -m simclr.ablation.pages`).
Before any work the output folder is checked (`simclr.safety.output_paths`): none of its files may be
an input, and an existing one is replaced only when simclr compare wrote it, or with `--overwrite true`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from simclr.ablation.budget import Budget, refuse_with_experiment
from simclr.ablation.experiments import Experiment, load_experiment, variant_files, write_variant_configs
from simclr.ablation.fit_configs import build_from_fit_config, fit_inputs
from simclr.ablation.method_runs import compare_methods
from simclr.ablation.method_table import (
    format_method_table,
    log_methods_to_tensorboard,
    method_bar_chart,
    write_method_rows,
)
from simclr.ablation.names import check_names
from simclr.ablation.run_data import (
    RUN_DATA,
    check_data_file,
    environment,
    method_data,
    training_device,
    write_run_data,
)
from simclr.ablation.yaml_files import read_mapping
from simclr.errors import UserError
from simclr.eval.probe import KNN_K
from simclr.safety.output_paths import check_output_folder, record_outputs
from simclr.safety.run_folder import writable_folder

OUTPUTS = ("methods.csv", "methods.json", "methods.md", "methods.png", RUN_DATA)  # in --out_dir
BASELINES = {"random_h": "pass --baselines false", "pixels": "pass --baselines false"}  # rows --baselines adds


def compare(
    fit_args: Sequence[str] = (),
    methods: list[str] | None = None,
    experiment: str | None = None,
    out_dir: str = "runs/methods",
    seeds: list[int] | None = None,
    budget: Budget | None = None,
    knn_k: int = KNN_K,
    baselines: bool = True,
    accelerator: str = "auto",
    precision: str | None = None,
    overwrite: bool = False,
    trust_files: bool = False,
    data_file: str | None = None,
) -> Path:
    """Pretrain every method (or experiment variant) with one budget, probe h of each with one recipe, and
    write the table and chart; returns the path of methods.json.

    Args:
        fit_args: `simclr fit` arguments: `--config FILE` (repeatable) and `--model.*` / `--data.*` overrides.
        methods: method YAMLs (model options only) stacked on the fit config, each named by its file name.
        experiment: an experiment YAML (configs/experiments/): its configs, variants, seeds and budget replace
            the fit config, --methods, --seeds and the budget options.
        out_dir: folder for the table, chart and TensorBoard.
        seeds: one run per method and seed (default [0]).
        budget: run length and probe sizes (the budget options); default: `Budget()`.
        knn_k: neighbours of the kNN probe.
        baselines: add the rows random_h (untrained encoder) and pixels.
        accelerator: Lightning accelerator of the pretraining runs.
        precision: Lightning precision, e.g. bf16-mixed on a GPU.
        overwrite: replace files in --out_dir that simclr compare did not write.
        trust_files: build any class the experiment file names (default: only the listed ones); only for files
            you trust.
        data_file: also write the data rows (runs.jsonl) to this file, e.g. docs/results/data/batch-size.jsonl;
            an existing file is replaced only when it is a data file already, or with --overwrite true.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fit_args = list(fit_args)
    source = {"command": "simclr compare", "experiment": experiment, "methods": methods, "fit_args": list(fit_args)}
    if knn_k < 1:
        raise UserError(f"--knn_k {knn_k} is below 1; pass --knn_k 1 or more")
    if budget is not None and budget.val_images != Budget.val_images:
        raise UserError("--val_images has no effect on simclr compare, which measures no validation loss; drop it")
    out = Path(out_dir)
    trainer_args = [arg for arg in fit_args if arg.startswith("--trainer.")]
    if trainer_args:
        raise UserError(f"{trainer_args[0]} has no effect on simclr compare; set the run with --max_steps/--epochs")
    reserved = BASELINES if baselines else {}
    inputs = fit_inputs(fit_args)
    if experiment:
        refuse_with_experiment(experiment, {"--methods": methods, "--seeds": seeds}, budget,
                               "the variants, seeds and budget")  # fmt: skip
        spec: Experiment = load_experiment(experiment, trust_files)
        check_names([v.name for v in spec.variants], "variant", experiment, reserved)
        fit_args = [arg for config in spec.configs for arg in ("--config", config)] + fit_args
        inputs += [("--experiment", experiment), *(("its config", c) for c in spec.configs)]
        outputs = [*OUTPUTS, *variant_files(spec).values()]
        check_outputs(out, outputs, inputs, overwrite)
        runs, seeds, budget = write_variant_configs(spec, out), spec.seeds, spec.budget
        budgets, probe_z = {v.name: v.budget for v in spec.variants}, spec.probe_z
    else:
        seeds = [0] if seeds is None else seeds
        runs, budget = method_files(methods, fit_args, reserved), Budget() if budget is None else budget
        if len(set(seeds)) != len(seeds):
            raise UserError(f"--seeds {seeds} repeat a seed; give each seed once")
        inputs += [("--methods", m) for m in runs.values()]
        check_outputs(out, OUTPUTS, inputs, overwrite)
        budgets, probe_z = None, False
    if data_file:
        check_data_file(data_file, inputs, [out / name for name in OUTPUTS], overwrite)
    env = environment(training_device(accelerator))
    builders, datamodule = {}, None
    for name, path in runs.items():
        build, data = build_from_fit_config(with_method(fit_args, str(path)))
        builders[name], datamodule = build, datamodule or data
    rows = compare_methods(builders, datamodule, budget, seeds, knn_k, accelerator, precision, out,
                           baselines=baselines, budgets=budgets, probe_z=probe_z)  # fmt: skip
    csv_path, json_path, md_path = write_method_rows(rows, out)
    figure = method_bar_chart(rows, out / "methods.png")
    log_methods_to_tensorboard(rows, figure, out / "tensorboard")
    data = method_data(rows, env, source)
    written = [write_run_data(data, out / RUN_DATA), *([write_run_data(data, data_file)] if data_file else [])]
    print(format_method_table(rows))
    print(f"wrote {csv_path}, {json_path}, {md_path}, {out / 'methods.png'}, {' and '.join(map(str, written))} "
          f"and {out / 'tensorboard'}")  # fmt: skip
    return json_path


def check_outputs(out: Path, names, inputs, overwrite: bool) -> None:
    """The output folder and the files simclr compare writes there, checked and recorded before any work."""
    check_output_folder(out, names, inputs, "--out_dir", "compare", overwrite)
    writable_folder(out, "--out_dir")
    record_outputs(out, names, "compare")


def method_files(methods: list[str] | None, fit_args: list[str], reserved: dict[str, str]) -> dict[str, Path]:
    """name -> method YAML of `--methods`, checked: files that exist, distinct names, model options only."""
    if "--config" not in fit_args:
        raise UserError("simclr compare needs --config <simclr fit config>, e.g. --config configs/fashion_mnist.yaml")
    if not methods:
        raise UserError("simclr compare needs --methods (method YAMLs) or --experiment (configs/experiments/*.yaml)")
    missing = [m for m in methods if not Path(m).is_file()]
    if missing:
        raise UserError(f"--methods {missing[0]} is not a file; pass method YAMLs, e.g. configs/methods/byol.yaml")
    names = [Path(m).stem for m in methods]
    if len(set(names)) != len(names):
        raise UserError(f"--methods names {names} repeat; give each method config its own file name")
    check_names(names, "method", "--methods", reserved)
    for path in methods:
        what = "a method config (`model:` options stacked on --config)"
        unused = sorted(set(read_mapping(path, what, "simclr compare --methods", METHOD_EXAMPLE)) - {"model"}, key=str)
        if unused:
            raise UserError(
                f"--methods {path} sets {unused[0]!r}, which simclr compare does not use (the budget options set the "
                f"run, --config the data); keep model options in method YAMLs"
            )
    return {name: Path(path) for name, path in zip(names, methods)}


METHOD_EXAMPLE = "configs/methods/byol.yaml"


def with_method(fit_args: list[str], method: str) -> list[str]:
    """The fit arguments with `--config method` after the last `--config` (before the command-line overrides)."""
    last = max(i for i, arg in enumerate(fit_args) if arg == "--config")
    return [*fit_args[: last + 2], "--config", method, *fit_args[last + 2 :]]
