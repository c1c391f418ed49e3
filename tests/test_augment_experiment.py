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
from simclr.ablation.run_data import read_run_data
from simclr.ablation.strategies import load_strategies
from simclr.cli.main import run_command

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
    assert len(experiment.seeds) >= 3  # every page has three seeds per row, the noise rule's minimum
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
    rows = read_rows(run_command(["compare-augs", "--experiment", str(tiny), "--data.init_args.root", str(root),
                                   "--out_dir", str(out), "--accelerator", "cpu"]))  # fmt: skip
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
    data = read_run_data(out / "runs.jsonl")  # the data rows a results page is rendered from
    assert [(d["variant"], d["seed"]) for d in data] == [(r.strategy, r.seed) for r in rows]
    assert data[0]["baseline"] and data[0]["steps"] == 0 and not data[1]["baseline"] and data[1]["steps"] == 1
    assert data[1]["metrics"]["h_linear_top1"] == rows[1].h_top1 and data[1]["parts"] == rows[1].parts
    assert data[1]["experiment"] == str(tiny) and data[1]["threads"] >= 1 and data[1]["device"]


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
    line = user_error(monkeypatch, capsys, "compare-augs", "--experiment", grid, "--epochs", "3")
    assert "--epochs has no effect with --experiment" in line
    line = user_error(monkeypatch, capsys, "compare-augs", "--config", str(CONFIGS / "fashion_mnist.yaml"),
                      "--strategies", str(CONFIGS / "strategies" / "pairs_fashion_mnist.yaml"), "--seeds", "0", "0")  # fmt: skip
    assert "--seeds [0, 0] repeat a seed" in line


PAIRS = str(CONFIGS / "strategies" / "pairs_fashion_mnist.yaml")
RULE = "use letters, digits, spaces and _.+-/(),=: (at most 80 characters, starting with a letter or digit)"
WHAT = ("simclr compare-augs --strategies takes a strategies file (`blocks:` and `singles:`, `pairs:`, `compositions:` "
        "or `pipelines:`), e.g. configs/strategies/pairs_fashion_mnist.yaml")  # fmt: skip
ROT = "\n    - class_path: augmentations.RandomRot90"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"blocks:\n  a:{ROT}\n  a:{ROT}\nsingles: true\n",
         "{path} line 4: the key 'a' appears twice in one mapping; give each entry of a strategies file (`blocks:` "
         "and `singles:`, `pairs:`, `compositions:` or `pipelines:`) its own name"),
        (f"blocks:\n  a:{ROT}\ncompositions:\n  ../../escape: [a]\n",
         "{path}: strategy name '../../escape' starts with '.'; " + RULE),
        (f'blocks:\n  "a\\tb":{ROT}\nsingles: true\n', "{path}: block name 'a\\tb' contains '\\t'; " + RULE),
        (f"blocks:\n  a|b:{ROT}\nsingles: true\n", "{path}: block name 'a|b' contains '|'; " + RULE),
        (f"blocks:\n  untrained:{ROT}\nsingles: true\n",
         "{path}: strategy name 'untrained' is the name of a row the command adds; rename it or pass --untrained false"),
        (f"blocks:\n  a:{ROT}\ncompositions:\n  x: [a, b]\n",
         "{path}: strategy 'x' names unknown block(s) ['b']; define them under `blocks:` (have ['a'])"),
        (f"blocks:\n  a:{ROT}\n",
         "{path}: the strategies file defines no strategy; set `singles: true`, `pairs: true`, `compositions:` or "
         "`pipelines:`"),
        (f"blocks:\n  a:{ROT}\nsingle: true\n",
         "{path} has unknown key 'single'; a strategies file has blocks, singles, pairs, compositions, pipelines"),
        ("- crop\n- color\n", "{path} holds a list, not a mapping of keys; " + WHAT),
        ("", "{path} is empty; " + WHAT),
    ],
)  # fmt: skip
def test_malformed_strategy_files_are_one_line(text, message, tmp_path, monkeypatch, capsys):
    path = tmp_path / "strategies.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    line = user_error(monkeypatch, capsys, "compare-augs", "--config", str(CONFIGS / "fashion_mnist.yaml"),
                      "--strategies", str(path), "--out_dir", str(out))  # fmt: skip
    assert line == "simclr: error: " + message.replace("{path}", str(path))
    assert not out.exists()  # refused before any work


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--probe_images", "-2"],
         "--probe_images -2 is not a count of 1 or more; pass a positive number (null: all)"),
        (["--train_images", "0"],
         "--train_images 0 is not a count of 1 or more; pass a positive number (null: all)"),
        (["--test_images", "-1"],
         "--test_images -1 is not a count of 1 or more; pass a positive number (null: the whole test split)"),
        (["--val_images", "0"], "--val_images 0 is not a count of 1 or more; pass a positive number"),
        (["--only", "[crop, hue]"],
         f"--only names block 'hue', which {PAIRS} does not define; name blocks among crop, cutout, color, blur, "
         f"noise, rotate, sobel"),
    ],
)  # fmt: skip
def test_compare_augs_budget_and_only_options_are_one_line(options, message, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    line = user_error(monkeypatch, capsys, "compare-augs", "--config", str(CONFIGS / "fashion_mnist.yaml"),
                      "--strategies", PAIRS, "--out_dir", str(out), *options)  # fmt: skip
    assert line == f"simclr: error: {message}"
    assert not out.exists()


def test_augment_experiment_budget_and_repeated_keys_are_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "grid.yaml"
    head = f"configs: [{CONFIGS / 'fashion_mnist.yaml'}]\nstrategies: {PAIRS}\n"
    path.write_text(head + "budget: {probe_images: -10}\n")
    line = user_error(monkeypatch, capsys, "compare-augs", "--experiment", str(path))
    assert (
        line
        == f"simclr: error: {path} budget: probe_images -10 is not a count of 1 or more; pass a positive number (null: all)"
    )
    path.write_text(head + "seeds: [1]\nseeds: [2]\n")
    line = user_error(monkeypatch, capsys, "compare-augs", "--experiment", str(path))
    assert line == (
        f"simclr: error: {path} line 4: the key 'seeds' appears twice in one mapping; give each entry of an "
        f"augmentation experiment file its own name"
    )
    path.write_text(head + "seeds: [1, 1]\n")
    line = user_error(monkeypatch, capsys, "compare-augs", "--experiment", str(path))
    assert line == f"simclr: error: {path} seeds [1, 1] repeat a seed; give each seed once"


def test_compare_augs_out_is_checked_before_any_work(tmp_path, monkeypatch, capsys):
    base = ["compare-augs", "--config", str(CONFIGS / "fashion_mnist.yaml"), "--strategies", PAIRS, "--out_dir"]
    blocker = tmp_path / "file"
    blocker.write_text("a file")
    line = user_error(monkeypatch, capsys, *base, str(blocker))
    assert (
        line
        == f"simclr: error: --out_dir {blocker} is a file, not a folder; pass a folder path, e.g. --out_dir runs/out"
    )
    line = user_error(monkeypatch, capsys, *base, str(blocker / "grid"))
    assert line == (
        f"simclr: error: --out_dir {blocker / 'grid'} is under the file {blocker}, so it cannot be a folder; pass another "
        f"folder"
    )
    out = tmp_path / "out"
    (out / "seed1").mkdir(parents=True)
    (out / "seed1" / "compare.json").write_text("[]")
    line = user_error(monkeypatch, capsys, *base, str(out), "--seeds", "0", "1")
    assert line == (
        f"simclr: error: --out_dir would replace {out / 'seed1' / 'compare.json'}, which simclr compare-augs did not "
        f"write; pass another --out_dir, or --overwrite true to replace it"
    )
    (out / "table.md").symlink_to(PAIRS)  # the strategies file, by a symbolic link
    line = user_error(monkeypatch, capsys, *base, str(out), "--overwrite", "true")
    assert line == (
        f"simclr: error: --out_dir would write {out / 'table.md'}, which is --strategies {PAIRS} (the same file); pass "
        f"another --out_dir"
    )
    assert (out / "seed1" / "compare.json").read_text() == "[]" and sorted(p.name for p in out.iterdir()) == [
        "seed1",
        "table.md",
    ]
