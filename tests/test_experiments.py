"""configs/experiments/*.yaml: each experiment (a results page) runs through `simclr compare --experiment` at a
tiny size, and its file errors are one line."""

from pathlib import Path

import pytest
import yaml
from helpers import fakedata
from helpers.cli import user_error

from simclr.ablation.experiments import load_experiment
from simclr.ablation.method_table import read_method_rows
from simclr.cli.compare import compare

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXPERIMENTS = sorted(p.name for p in (CONFIGS / "experiments").glob("*.yaml"))
TINY_BUDGET = {"max_steps": 1, "batch_size": 8, "train_images": 32, "probe_images": 32, "test_images": 16,
               "probe_max_iter": 2}  # fmt: skip


def tiny_copy(name: str, folder: Path) -> Path:
    """The experiment with one seed, a tiny budget for it and every variant, and its configs as absolute paths."""
    spec = yaml.safe_load((CONFIGS / "experiments" / name).read_text())
    spec["configs"] = [str(CONFIGS.parent / c) for c in spec["configs"]]
    spec["seeds"], spec["budget"] = [0], dict(TINY_BUDGET)
    for fragment in spec["variants"].values():
        if fragment and "budget" in fragment:
            fragment["budget"] = {key: TINY_BUDGET[key] for key in fragment["budget"]}
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.slow  # trains every variant through the CLI
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_every_variant_at_a_tiny_size(name, tmp_path):
    experiment = load_experiment(CONFIGS / "experiments" / name)
    assert len(experiment.seeds) >= 2  # every page has two seeds per row
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    out = tmp_path / "out"
    args = ["--experiment", str(tiny_copy(name, tmp_path)), "--data.init_args.root", str(root), "--out_dir", str(out),
            "--knn_k", "3", "--accelerator", "cpu", "--baselines", "false"]  # fmt: skip
    rows = read_method_rows(compare(args))
    assert [r.method for r in rows] == [v.name for v in experiment.variants]
    assert all(0 <= r.linear_top1 <= 1 and r.steps == 1 for r in rows)
    assert all((r.z_linear_top1 is not None) == experiment.probe_z for r in rows)
    assert sorted(p.stem for p in (out / "variants").glob("*.yaml")) == sorted(v.name for v in experiment.variants)
    assert (out / "methods.md").read_text().count("\n") == len(rows) + 2


def test_variant_budgets_override_the_experiment_budget():
    experiment = load_experiment(CONFIGS / "experiments" / "batch_size.yaml")
    budgets = {v.name: (v.budget.batch_size, v.budget.max_steps) for v in experiment.variants}
    assert budgets["b128_300steps"] == (128, 300) and budgets["b32_equal_images"] == (32, 1200)
    assert budgets["b512_equal_images"] == (512, 75)
    assert all(v.budget.probe_images == 10000 for v in experiment.variants)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"configs": ["configs/fashion_mnist.yaml"], "variants": {"a": {"data": {"batch_size": 4}}}}, "sets 'data'"),
        ({"configs": ["configs/fashion_mnist.yaml"], "variants": {"a": {"budget": {"probe_images": 4}}}}, "unknown field 'probe_images'"),
        ({"configs": ["configs/fashion_mnist.yaml"], "seed": [1], "variants": {"a": {}}}, "unknown key 'seed'"),
        ({"configs": ["configs/nope.yaml"], "variants": {"a": {}}}, "names config configs/nope.yaml"),
        ({"variants": {"a": {}}}, "needs `configs:`"),
    ],
)  # fmt: skip
def test_experiment_file_errors_are_one_line(spec, message, tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    line = user_error(monkeypatch, capsys, "compare", "--experiment", str(path))
    assert message in line


def test_experiment_with_budget_options_is_refused(tmp_path, monkeypatch, capsys):
    line = user_error(monkeypatch, capsys, "compare", "--experiment", str(CONFIGS / "experiments" / "temperature.yaml"),
                      "--max_steps", "5")  # fmt: skip
    assert "--max_steps has no effect with --experiment" in line


def test_compare_refuses_trainer_options_and_method_files_with_other_sections(tmp_path, monkeypatch, capsys):
    base = ["compare", "--config", str(CONFIGS / "fashion_mnist.yaml")]
    line = user_error(monkeypatch, capsys, *base, "--methods", str(CONFIGS / "methods" / "simclr.yaml"),
                      "--trainer.max_steps", "3")  # fmt: skip
    assert "--trainer.max_steps has no effect on simclr compare" in line
    line = user_error(
        monkeypatch, capsys, *base, "--methods", str(CONFIGS / "loss" / "drop_hardest_constant_pairs.yaml")
    )
    assert "sets 'trainer', which simclr compare does not use" in line


def test_max_steps_sets_the_run_length_whatever_the_epochs_and_both_is_an_error():
    from simclr.ablation.runner import Budget
    from simclr.errors import UserError

    assert Budget(max_steps=300).trainer_limits() == {"max_epochs": -1, "max_steps": 300}  # B=512: > 1 epoch
    assert Budget(epochs=3).trainer_limits() == {"max_epochs": 3}
    with pytest.raises(UserError, match="give one"):
        Budget(epochs=2, max_steps=5)
