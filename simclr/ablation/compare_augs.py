r"""`simclr compare-augs`: the augmentation comparison (`simclr.ablation.runner`) of one fit config.

    simclr compare-augs --config configs/fashion_mnist.yaml \
        --strategies configs/strategies/pairs_fashion_mnist.yaml --out_dir runs/compare --seeds 0 1 \
        --train_images 8192 --probe_images 10000 [--data.init_args.root DIR]
    simclr compare-augs --experiment configs/experiments/augmentation_grid.yaml --out_dir runs/grid

`--config` (repeatable) is a `simclr fit` config: its `model` (encoder, head, loss, optimiser, the
augment's normalisation) and `data` are used, its `trainer` section is not (the budget sets the run).
Arguments starting with `--model.`, `--data.`, `--trainer.` or `--seed_everything` override that config
as they would for `simclr fit`. Writes compare.csv, compare.json, runs.jsonl (one data row per strategy and
seed with its metrics, steps, wall time, threads, versions, device, date and commit: `simclr.ablation.run_data`),
heatmap.png (when the strategies hold ordered pairs) and bars.png into `--out_dir`, and the plots and table to
TensorBoard (`tensorboard --logdir OUT_DIR`). `--data_file docs/results/data/<page>.jsonl` also writes the data
rows there, the file a results page is rendered from (`python -m simclr.ablation.pages`). compare.json holds
one row per strategy and seed; table.md, the plots and TensorBoard show the mean over the seeds (table.md also
each seed and the standard deviation). With several seeds each seed's rows are
also written to OUT_DIR/seed<N>/ as they finish. `--experiment` reads the configs, strategies, seeds and budget
from a file (`simclr.ablation.augment_experiment`); `--data.*` / `--model.*` overrides still apply. Before any
work the output folder is checked (`simclr.safety.output_paths`): none of its files may be an input, and an
existing one is replaced only when simclr compare-augs wrote it, or with `--overwrite true`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from simclr.ablation.augment_experiment import load_augment_experiment
from simclr.ablation.budget import Budget, refuse_with_experiment
from simclr.ablation.fit_configs import build_from_fit_config, fit_inputs
from simclr.ablation.names import check_names
from simclr.ablation.plots import bar_chart, format_pair_table, pair_heatmap, pair_matrix
from simclr.ablation.results import UNTRAINED, CompareRow, format_rows, format_seed_table, mean_over_seeds, write_rows
from simclr.ablation.run_data import (
    RUN_DATA,
    check_data_file,
    environment,
    strategy_data,
    training_device,
    write_run_data,
)
from simclr.ablation.runner import compare_strategies
from simclr.ablation.strategies import load_strategies, restrict
from simclr.errors import UserError
from simclr.eval.figures import log_figures
from simclr.safety.output_paths import check_output_folder, record_outputs
from simclr.safety.run_folder import writable_folder

OUTPUTS = ("compare.csv", "compare.json", "table.md", "heatmap.png", "bars.png", RUN_DATA)  # in --out_dir
SEED_OUTPUTS = ("compare.csv", "compare.json")  # in --out_dir/seed<N>/ with several seeds


def compare_augs(
    fit_args: Sequence[str] = (),
    experiment: str | None = None,
    strategies: str | None = None,
    only: list[str] | None = None,
    out_dir: str = "runs/compare",
    budget: Budget | None = None,
    one_sided: bool | None = None,
    untrained: bool = True,
    seeds: list[int] | None = None,
    accelerator: str = "auto",
    precision: str | None = None,
    overwrite: bool = False,
    trust_files: bool = False,
    data_file: str | None = None,
) -> Path:
    """Pretrain one model per augmentation strategy and seed with one budget, probe each, and write the tables
    and plots; returns the path of compare.json.

    Args:
        fit_args: `simclr fit` arguments: `--config FILE` (repeatable) and `--model.*` / `--data.*` overrides.
        experiment: an augmentation experiment YAML (configs/experiments/): its configs, strategies, only, seeds,
            budget and one_sided replace those options.
        strategies: strategies YAML (schema: simclr.ablation.strategies.StrategySpec).
        only: keep the strategies made of these blocks only, e.g. [crop, color].
        out_dir: folder for compare.csv/json, table.md, the plots and TensorBoard.
        budget: run length and probe sizes (the budget options); default: `Budget()`.
        one_sided: Figure 5 protocol: identity | strategy (default); false augments both views.
        untrained: add the row 'untrained': the initial weights, probed.
        seeds: one run per strategy and seed; the seed fixes weights, batches, subsets, augmentations and probes
            (default [0]).
        accelerator: Lightning accelerator of the pretraining runs.
        precision: Lightning precision, e.g. bf16-mixed on a GPU.
        overwrite: replace files in --out_dir that simclr compare-augs did not write.
        trust_files: build any class the experiment and strategies files name (default: only the listed ones);
            only for files you trust.
        data_file: also write the data rows (runs.jsonl) to this file, e.g.
            docs/results/data/augmentation-grid.jsonl; an existing file is replaced only when it is a data file
            already, or with --overwrite true.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fit_args = list(fit_args)
    source = {"command": "simclr compare-augs", "experiment": experiment, "strategies": strategies,
              "fit_args": list(fit_args)}  # fmt: skip
    inputs = fit_inputs(fit_args)
    if experiment:
        given = {"--strategies": strategies, "--only": only, "--seeds": seeds, "--one_sided": one_sided}
        refuse_with_experiment(experiment, given, budget, "the strategies, seeds and budget")
        spec = load_augment_experiment(experiment, trust_files)
        fit_args = [arg for config in spec.configs for arg in ("--config", config)] + fit_args
        inputs += [("--experiment", experiment), *(("its config", c) for c in spec.configs)]
        strategies, only, seeds, budget, one_sided = spec.strategies, spec.only, spec.seeds, spec.budget, spec.one_sided
        source["strategies"] = strategies
    seeds = [0] if seeds is None else seeds
    budget = Budget() if budget is None else budget
    one_sided = True if one_sided is None else one_sided
    chosen = checked_strategies(fit_args, strategies, only, seeds, untrained, trust_files)
    out = Path(out_dir)
    outputs = [*OUTPUTS, *(f"seed{seed}/{name}" for seed in seeds if len(seeds) > 1 for name in SEED_OUTPUTS)]
    inputs.append(("--strategies", strategies))
    check_output_folder(out, outputs, inputs, "--out_dir", "compare-augs", overwrite)
    if data_file:
        check_data_file(data_file, inputs, [out / name for name in outputs], overwrite)
    writable_folder(out, "--out_dir")
    record_outputs(out, outputs, "compare-augs")
    env = environment(training_device(accelerator))
    build_model, datamodule = build_from_fit_config(fit_args)
    rows = []
    for seed in seeds:
        rows += compare_strategies(
            chosen,
            build_model,
            datamodule,
            budget,
            one_sided,
            seed,
            accelerator,
            precision,
            out_dir=out if len(seeds) == 1 else out / f"seed{seed}",
            untrained=untrained,
        )
    json_path = write_outputs(rows, out)
    data = strategy_data(rows, env, source)
    written = [write_run_data(data, out / RUN_DATA), *([write_run_data(data, data_file)] if data_file else [])]
    print(f"wrote {' and '.join(map(str, written))}")
    return json_path


def checked_strategies(
    fit_args: list[str], strategies: str | None, only: list[str] | None, seeds: list[int], untrained: bool,
    trust_files: bool,
) -> list:  # fmt: skip
    """The strategies of the `strategies` file restricted to `only`, after one-line UserErrors for a missing
    fit config or strategies file, a repeated seed, a reserved name or a block the file does not define."""
    if "--config" not in fit_args:
        raise UserError(
            "simclr compare-augs needs --config <simclr fit config>, e.g. --config configs/fashion_mnist.yaml"
        )
    if not strategies:
        raise UserError(
            "simclr compare-augs needs --strategies <strategies YAML>, e.g. configs/strategies/pairs_fashion_mnist.yaml"
        )
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {seeds} repeat a seed; give each seed once")
    loaded = load_strategies(strategies, trust_files)
    if untrained:
        check_names([s.name for s in loaded], "strategy", strategies, {UNTRAINED: "pass --untrained false"})
    if only:
        defined = list(dict.fromkeys(p for s in loaded for p in s.parts))
        unknown = [b for b in only if b not in defined]
        if unknown:
            raise UserError(
                f"--only names block {unknown[0]!r}, which {strategies} does not define; name blocks among "
                f"{', '.join(defined)}"
            )
        loaded = restrict(loaded, only)
        if not loaded:
            raise UserError(f"--only {only} keeps no strategy of {strategies}; name blocks it defines")
    return loaded


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
