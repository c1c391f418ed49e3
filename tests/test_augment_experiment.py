"""configs/experiments/augment/*.yaml through `simclr compare-augs --experiment` at a tiny size with two seeds,
the mean-over-seeds tables, and the one-line errors of the file and the options it replaces."""

import json
from pathlib import Path

import pytest
import yaml
from helpers import fakedata
from helpers.cli import user_error

from simclr.ablation.augment_experiment import load_augment_experiment
from simclr.ablation.results import UNTRAINED, CompareRow, format_seed_table, mean_over_seeds, read_rows
from simclr.ablation.strategies import load_strategies
from simclr.cli.compare_augs import compare_augs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GRIDS = sorted(p.name for p in (CONFIGS / "experiments" / "augment").glob("*.yaml"))
TINY_BUDGET = {"max_steps": 1, "batch_size": 8, "train_images": 32, "probe_images": 32, "val_images": 16,
               "test_images": 16, "probe_max_iter": 2}  # fmt: skip


def row(name, parts, h, seed):
    return CompareRow(name, parts, h, h - 0.1, 3.0 + seed, 0.5, 3.0, 2.0, seed)


def test_mean_over_seeds_and_the_seed_table():
    rows = [row(UNTRAINED, [], 0.5, 0), row("crop", ["crop"], 0.7, 0), row(UNTRAINED, [], 0.6, 1),
            row("crop", ["crop"], 0.8, 1)]  # fmt: skip
    means = mean_over_seeds(rows)
    assert [m.strategy for m in means] == [UNTRAINED, "crop"] and all(m.seed is None for m in means)
    assert means[1].h_top1 == pytest.approx(0.75) and means[1].final_loss == pytest.approx(3.5)
    assert means[1].seconds == 4.0 and means[1].parts == ["crop"]
    assert mean_over_seeds(rows[:2])[1].h_top1 == 0.7  # one seed: the same figures
    table = format_seed_table(rows)
    assert "| strategy | h top-1 (%) | h seed 0 | h seed 1 | z top-1 (%) |" in table
    assert "| crop | 75.00 ± 7.07 | 70.00 | 80.00 | 65.00 ± 7.07 |" in table  # sample std of 70 and 80


@pytest.mark.slow  # pretrains every kept strategy twice through the CLI
@pytest.mark.parametrize("name", GRIDS)
def test_augment_experiment_runs_with_two_seeds_at_a_tiny_size(name, tmp_path):
    experiment = load_augment_experiment(CONFIGS / "experiments" / "augment" / name)
    assert len(experiment.seeds) >= 2  # every page has two seeds per row
    blocks = sorted({p for s in load_strategies(experiment.strategies) for p in s.parts})
    assert len(blocks) >= 2
    spec = yaml.safe_load((CONFIGS / "experiments" / "augment" / name).read_text())
    spec["configs"] = [str(CONFIGS.parent / c) for c in spec["configs"]]
    spec["strategies"] = str(CONFIGS.parent / spec["strategies"])
    spec["only"], spec["budget"] = blocks[:2], dict(TINY_BUDGET)  # two blocks of the file: 2 singles + 2 pairs
    tiny = tmp_path / name
    tiny.write_text(yaml.safe_dump(spec))
    root = fakedata.write_fashion_mnist(tmp_path / "fm", n_train=64, n_test=32)
    out = tmp_path / "out"
    rows = read_rows(compare_augs(["--experiment", str(tiny), "--data.init_args.root", str(root),
                                   "--out", str(out), "--accelerator", "cpu"]))  # fmt: skip
    seeds = experiment.seeds
    assert [r.seed for r in rows] == [s for s in seeds for _ in range(5)]  # untrained + 4 strategies per seed
    assert len({r.strategy for r in rows}) == 5 and all(0 <= r.h_top1 <= 1 for r in rows)
    for seed in seeds:  # each seed's rows as they finished
        assert [r.seed for r in read_rows(out / f"seed{seed}" / "compare.json")] == [seed] * 5
    assert rows[0].h_top1 != rows[5].h_top1 or rows[0].z_top1 != rows[5].z_top1  # the seed changes the weights
    table = (out / "table.md").read_text()
    assert "mean of pairs" in table and " ± " in table and f"h seed {seeds[1]}" in table
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "compare.json").read_text())[0]["seed"] == seeds[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"configs": ["configs/fashion_mnist.yaml"]}, "needs `configs:` (fit configs) and `strategies:`"),
        ({"configs": ["configs/fashion_mnist.yaml"], "strategies": "configs/strategies/pairs_fashion_mnist.yaml",
          "seed": 1}, "unknown key 'seed'"),
        ({"configs": ["configs/fashion_mnist.yaml"], "strategies": "configs/strategies/pairs_fashion_mnist.yaml",
          "seeds": []}, "seeds must be a non-empty list"),
        ({"configs": ["configs/fashion_mnist.yaml"], "strategies": "configs/strategies/nope.yaml"},
         "names config configs/strategies/nope.yaml"),
        ({"configs": ["configs/fashion_mnist.yaml"], "strategies": "configs/strategies/pairs_fashion_mnist.yaml",
          "budget": {"epoch": 2}}, "unknown field 'epoch'"),
    ],
)  # fmt: skip
def test_augment_experiment_file_errors_are_one_line(spec, message, tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(CONFIGS.parent)
    assert message in user_error(monkeypatch, capsys, "compare-augs", "--experiment", str(path))


def test_options_the_experiment_sets_and_repeated_seeds_are_refused(monkeypatch, capsys):
    grid = str(CONFIGS / "experiments" / "augment" / "augmentation_grid.yaml")
    line = user_error(monkeypatch, capsys, "compare-augs", "--experiment", grid, "--seeds", "3")
    assert "--seeds has no effect with --experiment" in line
    line = user_error(monkeypatch, capsys, "compare-augs", "--experiment", grid, "--budget.epochs", "3")
    assert "--budget.epochs has no effect with --experiment" in line
    line = user_error(monkeypatch, capsys, "compare-augs", "--config", str(CONFIGS / "fashion_mnist.yaml"),
                      "--strategies", str(CONFIGS / "strategies" / "pairs_fashion_mnist.yaml"), "--seeds", "0", "0")  # fmt: skip
    assert "--seeds [0, 0] repeat a seed" in line
