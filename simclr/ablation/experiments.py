"""An experiment: named variants of one `simclr fit` config, trained with one budget and probed with one recipe.

A YAML under configs/experiments/ describes it (and regenerates a docs/results page):

    configs: [configs/fashion_mnist.yaml]        # the fit configs every variant stacks on, in order
    seeds: [0, 1]
    budget: {max_steps: 300, train_images: 20000}  # simclr.ablation.budget.Budget fields
    probe_z: true                                  # also probe z (the head's output), not only h
    variants:                                      # name -> a fit-config fragment stacked last
      nonlinear: {}
      linear: {model: {head: {init_args: {num_layers: 1, hidden_dim: null}}}}
      b512: {budget: {batch_size: 512}}            # a variant's own run length / batch size

    simclr compare --experiment configs/experiments/projection_head.yaml --out_dir runs/experiments/projection_head

Each variant's fragment is written to OUT/variants/<index>_<slug of its name>.yaml and stacked as a further
`--config`, so the run is what `simclr fit --config ... --config OUT/variants/01_linear.yaml` trains. Every
variant pretrains on the same images in the same order from the same seed. Variant names are checked
(`simclr.ablation.names`) and unique (a key given twice in the file is an error, `simclr.ablation.yaml_files`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simclr.ablation.budget import Budget
from simclr.ablation.names import check_names, file_names
from simclr.ablation.yaml_files import read_mapping
from simclr.errors import UserError
from simclr.safety.allowed_classes import check_config_file
from simclr.safety.output_paths import inside

KEYS = {"configs", "seeds", "budget", "probe_z", "variants"}
BUDGET_FIELDS = {f.name for f in dataclasses.fields(Budget)}
VARIANT_BUDGET_FIELDS = {"epochs", "max_steps", "batch_size"}  # what may differ between variants
VARIANTS_FOLDER = "variants"  # in the output folder: one fit-config fragment per variant


@dataclass
class Variant:
    """One row of an experiment: a fit-config fragment and its own run length."""

    name: str
    config: dict[str, Any]  # stacked on the experiment's configs (model options only)
    budget: Budget


@dataclass
class Experiment:
    """The parsed experiment YAML (see the module docstring)."""

    configs: list[str]
    seeds: list[int]
    budget: Budget
    probe_z: bool
    variants: list[Variant]


def parse_budget(values: Any, where: str, allowed: set[str], base: Budget) -> Budget:
    """`base` with the Budget fields of a YAML mapping; a one-line UserError naming `where` for anything else."""
    if not isinstance(values, dict):
        raise UserError(f"{where} must be a mapping of Budget fields, e.g. {{max_steps: 300}}")
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise UserError(f"{where} has unknown field {unknown[0]!r}; use {', '.join(sorted(allowed))}")
    try:
        return dataclasses.replace(base, **values)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def find_config(name: str, experiment: Path, trusted: bool = False) -> Path:
    """A config named in an experiment: relative to the working directory, else to a folder above the
    experiment file (so `configs/fashion_mnist.yaml` works from anywhere in the repository). Unless
    `trusted`, it may name only classes on the list of `simclr.safety.allowed_classes`."""
    found = [Path(name)] + [folder / name for folder in experiment.resolve().parents]
    for path in found:
        if path.is_file():
            if not trusted:
                check_config_file(path)
            return path
    raise UserError(f"{experiment} names config {name}, which is not a file here or above the experiment file")


def read_spec(
    path: str | Path,
    required: dict[str, str],
    keys: set[str],
    kind: str,
    trusted: bool = False,
    command: str = "simclr compare --experiment",
    example: str = "configs/experiments/temperature.yaml",
) -> dict[str, Any]:
    """The mapping of an experiment YAML, checked: the file exists, has every `required` key (key -> what it
    holds, for the message), no key outside `keys`, and names only classes on the list of
    `simclr.safety.allowed_classes` (unless `trusted`); else a one-line UserError naming the fix."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--experiment {path} is not a file; pass a YAML from configs/experiments/")
    spec = read_mapping(path, f"{kind} file", command, example)
    if not set(required) <= set(spec):
        needs = " and ".join(f"`{key}:` ({what})" for key, what in required.items())
        raise UserError(f"{path} needs {needs}")
    unknown = sorted(set(spec) - keys, key=str)
    if unknown:
        raise UserError(f"{path} has unknown key {unknown[0]!r}; {kind} has {', '.join(sorted(keys))}")
    if not trusted:
        check_config_file(path, spec)
    return spec


def load_experiment(path: str | Path, trusted: bool = False) -> Experiment:
    """Parse and check an experiment YAML; a one-line UserError names the first problem and its fix."""
    path = Path(path)
    spec = read_spec(
        path,
        {"configs": "fit configs", "variants": "name -> fit-config fragment"},
        KEYS,
        "an experiment",
        trusted=trusted,
    )
    configs = [str(find_config(c, path, trusted)) for c in config_list(spec["configs"], path)]
    seeds = seed_list(spec.get("seeds", [0]), path)
    budget = parse_budget(spec.get("budget", {}), f"{path} budget", BUDGET_FIELDS, Budget())
    if not isinstance(spec["variants"], dict) or not spec["variants"]:
        raise UserError(f"{path} variants must map each variant's name to a fit-config fragment ({{}}: the base)")
    names = [str(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else n for n in spec["variants"]]
    check_names(names, "variant", str(path))
    variants = []
    for name, fragment in zip(names, spec["variants"].values()):
        where = f"{path} variant {name!r}"
        if fragment is not None and not isinstance(fragment, dict):
            raise UserError(
                f"{where} is a {type(fragment).__name__}; give a mapping of fit-config options such as "
                f"{{model: {{...}}, budget: {{...}}}}, or {{}} for the base config"
            )
        fragment = dict(fragment or {})
        if not isinstance(fragment.get("model", {}), dict):
            raise UserError(f"{where} model must be a mapping of model options, e.g. {{loss: {{init_args: ...}}}}")
        own = parse_budget(fragment.pop("budget", {}), f"{where} budget", VARIANT_BUDGET_FIELDS, budget)
        ignored = sorted(set(fragment) - {"model"})
        if ignored:
            raise UserError(
                f"{where} sets {ignored[0]!r}, which a comparison does not use (its budget sets the run and one data "
                f"module serves every variant); set model options, or batch size and length under budget"
            )
        variants.append(Variant(name, fragment, own))
    return Experiment(configs, seeds, budget, bool(spec.get("probe_z", False)), variants)


def config_list(configs: Any, path: Path) -> list[str]:
    """The `configs:` of a file, checked: a non-empty list of paths."""
    if not isinstance(configs, list) or not configs or not all(isinstance(c, str) and c for c in configs):
        raise UserError(f"{path} configs must be a non-empty list of fit configs, e.g. [configs/fashion_mnist.yaml]")
    return configs


def seed_list(seeds: Any, path: Path) -> list[int]:
    """The `seeds:` of a file, checked: a non-empty list of distinct integers."""
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise UserError(f"{path} seeds must be a non-empty list of integers, e.g. [0, 1]")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"{path} seeds {seeds} repeat a seed; give each seed once")
    return seeds


def variant_files(experiment: Experiment) -> dict[str, str]:
    """variant name -> its fragment's path relative to the output folder, e.g. "variants/01_linear.yaml"."""
    names = file_names([v.name for v in experiment.variants], ".yaml")
    return {name: f"{VARIANTS_FOLDER}/{file}" for name, file in names.items()}


def write_variant_configs(experiment: Experiment, out_dir: str | Path) -> dict[str, Path]:
    """Each variant's fragment as OUT/`variant_files` (`{}` for the base variant); variant name -> path.
    A path that would land outside OUT (a linked `variants` folder) is a UserError."""
    out_dir = Path(out_dir)
    paths = {name: out_dir / file for name, file in variant_files(experiment).items()}
    (out_dir / VARIANTS_FOLDER).mkdir(parents=True, exist_ok=True)
    for variant in experiment.variants:
        path = paths[variant.name]
        if not inside(out_dir, path):
            raise UserError(f"{path} would be written outside {out_dir}; pass another output folder")
        path.write_text(yaml.safe_dump(variant.config, sort_keys=False) if variant.config else "{}\n")
    return paths
