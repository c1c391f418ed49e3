"""An augmentation comparison as a file: the fit configs, strategies, seeds and budget of one
`simclr compare-augs` run, so that one command regenerates a docs/results page.

    configs: [configs/fashion_mnist.yaml, configs/experiments/base/fashion_mnist_tiny.yaml]
    strategies: configs/strategies/pairs_fashion_mnist.yaml
    only: [crop, color]          # optional: keep the strategies made of these blocks only
    seeds: [0, 1]
    budget: {train_images: 12288, probe_images: 10000}   # simclr.ablation.budget.Budget fields
    one_sided: true              # optional (default true): the Figure 5 protocol, identity | strategy

    simclr compare-augs --experiment configs/experiments/augment/augmentation_grid.yaml --out_dir runs/grid

Paths are relative to the working directory or to a folder above the file (`find_config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simclr.ablation.budget import Budget
from simclr.ablation.experiments import BUDGET_FIELDS, config_list, find_config, parse_budget, read_spec, seed_list
from simclr.errors import UserError

KEYS = {"configs", "strategies", "only", "seeds", "budget", "one_sided"}
STRATEGIES_EXAMPLE = "configs/strategies/pairs_fashion_mnist.yaml"


@dataclass
class AugmentExperiment:
    """The parsed file (see the module docstring)."""

    configs: list[str]
    strategies: str
    only: list[str] | None
    seeds: list[int]
    budget: Budget
    one_sided: bool


def load_augment_experiment(path: str | Path, trusted: bool = False) -> AugmentExperiment:
    """Parse and check the file; a one-line UserError names the first problem and its fix."""
    path = Path(path)
    required = {"configs": "fit configs", "strategies": "a strategies YAML"}
    spec = read_spec(path, required, KEYS, "an augmentation experiment", command="simclr compare-augs --experiment",
                     example="configs/experiments/augment/augmentation_grid.yaml", trusted=trusted)  # fmt: skip
    seeds = seed_list(spec.get("seeds", [0]), path)
    if not isinstance(spec["strategies"], str) or not spec["strategies"]:
        raise UserError(f"{path} strategies must be the path of one strategies YAML, e.g. {STRATEGIES_EXAMPLE}")
    only = spec.get("only")
    if only is not None and (not isinstance(only, list) or not all(isinstance(b, str) for b in only)):
        raise UserError(f"{path} only must be a list of block names, e.g. [crop, color]")
    return AugmentExperiment(
        configs=[str(find_config(c, path, trusted)) for c in config_list(spec["configs"], path)],
        strategies=str(find_config(spec["strategies"], path, trusted=True)),  # checked when loaded
        only=only,
        seeds=seeds,
        budget=parse_budget(spec.get("budget", {}), f"{path} budget", BUDGET_FIELDS, Budget()),
        one_sided=bool(spec.get("one_sided", True)),
    )
