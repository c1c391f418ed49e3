"""configs/experiments/*.yaml: each experiment (a results page) runs through `simclr compare --experiment` at a
tiny size, and its file errors are one line."""

from pathlib import Path

import pytest
import yaml
from helpers import fakedata
from helpers.cli import user_error

from simclr.ablation.experiments import load_experiment
from simclr.ablation.method_table import read_method_rows
from simclr.ablation.run_data import read_run_data
from simclr.cli.main import run_command

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
    assert len(experiment.seeds) >= 3  # every page has three seeds per row, the noise rule's minimum
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    out = tmp_path / "out"
    args = ["--experiment", str(tiny_copy(name, tmp_path)), "--data.init_args.root", str(root), "--out_dir", str(out),
            "--knn_k", "3", "--accelerator", "cpu", "--baselines", "false"]  # fmt: skip
    rows = read_method_rows(run_command(["compare", *args]))
    assert [r.method for r in rows] == [v.name for v in experiment.variants]
    assert all(0 <= r.linear_top1 <= 1 and r.steps == 1 for r in rows)
    assert all((r.z_linear_top1 is not None) == experiment.probe_z for r in rows)
    files = [f"{i:02d}_{v.name}.yaml" for i, v in enumerate(experiment.variants)]  # the shipped names are slugs
    assert sorted(p.name for p in (out / "variants").glob("*.yaml")) == files
    assert (out / "methods.md").read_text().count("\n") == len(rows) + 2
    data = read_run_data(out / "runs.jsonl")  # the data rows a results page is rendered from
    assert [(d["variant"], d["seed"], d["steps"]) for d in data] == [(r.method, r.seed, 1) for r in rows]
    assert all(d["batch_size"] == 8 and d["pairs_seen"] == 8 and not d["baseline"] for d in data)
    assert data[0]["metrics"]["h_linear_top1"] == rows[0].linear_top1 and data[0]["seconds"] > 0
    assert {"threads", "torch", "lightning", "device", "date", "commit", "dirty"} <= set(data[0])


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
    from simclr.ablation.budget import Budget
    from simclr.errors import UserError

    assert Budget(max_steps=300).trainer_limits() == {"max_epochs": -1, "max_steps": 300}  # B=512: > 1 epoch
    assert Budget(epochs=3).trainer_limits() == {"max_epochs": 3}
    with pytest.raises(UserError, match="give one"):
        Budget(epochs=2, max_steps=5)


BASE = str(CONFIGS / "fashion_mnist.yaml")
RULE = "use letters, digits, spaces and _.+-/(),=: (at most 80 characters, starting with a letter or digit)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"configs: [{BASE}]\nvariants:\n  a: {{}}\n  a: {{}}\n",
         "{path} line 4: the key 'a' appears twice in one mapping; give each entry of an experiment file its own name"),
        (f"configs: [{BASE}]\nvariants:\n  ../up: {{}}\n", "{path}: variant name '../up' starts with '.'; " + RULE),
        (f"configs: [{BASE}]\nvariants:\n  a/../../up: {{}}\n", "{path}: variant name 'a/../../up' contains '..'; " + RULE),
        (f"configs: [{BASE}]\nvariants:\n  /home/me/fit.yaml: {{}}\n",
         "{path}: variant name '/home/me/fit.yaml' starts with a sign or ends with a space; " + RULE),
        (f'configs: [{BASE}]\nvariants:\n  "a\\x00b": {{}}\n', "{path}: variant name 'a\\x00b' contains '\\x00'; " + RULE),
        (f"configs: [{BASE}]\nvariants:\n  {'v' * 81}: {{}}\n",
         "{path}: variant name '" + "v" * 46 + "... is 81 characters long; " + RULE),
        (f"configs: [{BASE}]\nvariants:\n  random_h: {{}}\n",
         "{path}: variant name 'random_h' is the name of a row the command adds; rename it or pass --baselines false"),
        (f"configs: [{BASE}]\nvariants:\n  a: [1, 2]\n",
         "{path} variant 'a' is a list; give a mapping of fit-config options such as {model: {...}, budget: {...}}, "
         "or {} for the base config"),
        (f"configs: [{BASE}]\nvariants:\n  a: {{model: 3}}\n",
         "{path} variant 'a' model must be a mapping of model options, e.g. {loss: {init_args: ...}}"),
        (f"configs: {BASE}\nvariants:\n  a: {{}}\n",
         "{path} configs must be a non-empty list of fit configs, e.g. [configs/fashion_mnist.yaml]"),
        (f"configs: [{BASE}]\nseeds: [0, 0]\nvariants:\n  a: {{}}\n",
         "{path} seeds [0, 0] repeat a seed; give each seed once"),
        (f"configs: [{BASE}]\nbudget: {{probe_images: -5}}\nvariants:\n  a: {{}}\n",
         "{path} budget: probe_images -5 is not a count of 1 or more; pass a positive number (null: all)"),
        (f"configs: [{BASE}]\nbudget: {{train_images: 0}}\nvariants:\n  a: {{}}\n",
         "{path} budget: train_images 0 is not a count of 1 or more; pass a positive number (null: all)"),
        (f"configs: [{BASE}]\nbudget: {{test_images: -1}}\nvariants:\n  a: {{}}\n",
         "{path} budget: test_images -1 is not a count of 1 or more; pass a positive number (null: the whole test "
         "split)"),
        (f"configs: [{BASE}]\nvariants:\n  a: {{budget: {{batch_size: 0}}}}\n",
         "{path} variant 'a' budget: batch_size 0 is not a count of 1 or more; pass a positive number (null: the "
         "data module's)"),
        ("- configs\n- variants\n", "{path} holds a list, not a mapping of keys; simclr compare --experiment takes an "
         "experiment file, e.g. configs/experiments/temperature.yaml"),
        ("", "{path} is empty; simclr compare --experiment takes an experiment file, e.g. "
         "configs/experiments/temperature.yaml"),
    ],
)  # fmt: skip
def test_experiment_names_and_malformed_files_are_one_line(text, message, tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    line = user_error(monkeypatch, capsys, "compare", "--experiment", str(path), "--out_dir", str(out))
    assert line == "simclr: error: " + message.replace("{path}", str(path))
    assert not out.exists()  # refused before any work


def method_args(tmp_path, *extra: str) -> list[str]:
    return ["compare", "--config", BASE, "--methods", str(CONFIGS / "methods" / "simclr.yaml"), *extra]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--seeds", "0", "0"], "--seeds [0, 0] repeat a seed; give each seed once"),
        (["--probe_images", "-1"], "--probe_images -1 is not a count of 1 or more; pass a positive number (null: all)"),
        (["--train_images", "0"], "--train_images 0 is not a count of 1 or more; pass a positive number (null: all)"),
        (["--test_images", "-3"],
         "--test_images -3 is not a count of 1 or more; pass a positive number (null: the whole test split)"),
        (["--batch_size", "0"],
         "--batch_size 0 is not a count of 1 or more; pass a positive number (null: the data module's)"),
    ],
)  # fmt: skip
def test_compare_budget_options_and_repeated_seeds_are_one_line(options, message, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    line = user_error(monkeypatch, capsys, *method_args(tmp_path, "--out_dir", str(out), *options))
    assert line == f"simclr: error: {message}"
    assert not out.exists()


def test_malformed_method_files_are_one_line(tmp_path, monkeypatch, capsys):
    empty, listed, twice = tmp_path / "empty.yaml", tmp_path / "listed.yaml", tmp_path / "twice.yaml"
    empty.write_text("")
    listed.write_text("- model\n")
    twice.write_text("model: {}\nmodel: {}\n")
    what = "simclr compare --methods takes a method config (`model:` options stacked on --config), e.g. configs/methods/byol.yaml"
    expected = {
        empty: f"{empty} is empty; {what}",
        listed: f"{listed} holds a list, not a mapping of keys; {what}",
        twice: f"{twice} line 2: the key 'model' appears twice in one mapping; give each entry of a method config "
        f"(`model:` options stacked on --config) its own name",
    }
    for path, message in expected.items():
        line = user_error(monkeypatch, capsys, "compare", "--config", BASE, "--methods", str(path))
        assert line == f"simclr: error: {message}"


def test_compare_out_dir_is_checked_before_any_work(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file")
    line = user_error(monkeypatch, capsys, *method_args(tmp_path, "--out_dir", str(blocker)))
    assert (
        line
        == f"simclr: error: --out_dir {blocker} is a file, not a folder; pass a folder path, e.g. --out_dir runs/out"
    )
    line = user_error(monkeypatch, capsys, *method_args(tmp_path, "--out_dir", str(blocker / "run")))
    assert line == (
        f"simclr: error: --out_dir {blocker / 'run'} is under the file {blocker}, so it cannot be a folder; pass "
        f"another folder"
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "methods.md").write_text("my notes")
    line = user_error(monkeypatch, capsys, *method_args(tmp_path, "--out_dir", str(out)))
    assert line == (
        f"simclr: error: --out_dir would replace {out / 'methods.md'}, which simclr compare did not write; pass "
        f"another --out_dir, or --overwrite true to replace it"
    )
    (out / "methods.md").unlink()
    (out / "methods.json").hardlink_to(CONFIGS / "methods" / "simclr.yaml")  # an input, by a hard link
    line = user_error(monkeypatch, capsys, *method_args(tmp_path, "--out_dir", str(out), "--overwrite", "true"))
    assert line == (
        f"simclr: error: --out_dir would write {out / 'methods.json'}, which is --methods "
        f"{CONFIGS / 'methods' / 'simclr.yaml'} (the same file); pass another --out_dir"
    )
    assert sorted(p.name for p in out.iterdir()) == ["methods.json"]


def test_variant_files_never_leave_the_out_folder(tmp_path, monkeypatch, capsys):
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(f"configs: [{BASE}]\nvariants:\n  crop + color 1/8: {{}}\n")
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "variants").symlink_to(elsewhere, target_is_directory=True)
    line = user_error(monkeypatch, capsys, "compare", "--experiment", str(experiment), "--out_dir", str(out))
    assert line == (
        f"simclr: error: --out_dir {out}: variants/00_crop_+_color_1_8.yaml would be written outside it; pass "
        f"another --out_dir"
    )
    assert not list(elsewhere.iterdir())


@pytest.mark.slow  # trains two variants through the CLI
def test_variant_names_with_slashes_and_spaces_get_their_own_files_inside_the_out_folder(tmp_path):
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    spec = {"configs": [BASE], "seeds": [0], "budget": dict(TINY_BUDGET),
            "variants": {"crop + color 1/8": {}, "a/b": {"model": {"loss": {"init_args": {"temperature": 0.2}}}}}}  # fmt: skip
    experiment = tmp_path / "names.yaml"
    experiment.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "out"
    args = ["--experiment", str(experiment), "--data.init_args.root", str(root), "--out_dir", str(out), "--knn_k", "3",
            "--accelerator", "cpu", "--baselines", "false", "--model.encoder.init_args.stage_widths", "[8, 8, 8, 8]"]  # fmt: skip
    rows = read_method_rows(run_command(["compare", *args]))
    assert [r.method for r in rows] == ["crop + color 1/8", "a/b"]
    assert sorted(p.name for p in (out / "variants").iterdir()) == ["00_crop_+_color_1_8.yaml", "01_a_b.yaml"]
    assert yaml.safe_load((out / "variants" / "01_a_b.yaml").read_text()) == spec["variants"]["a/b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fm", "names.yaml", "out"]
    assert (
        read_method_rows(run_command(["compare", *args]))[0].method == "crop + color 1/8"
    )  # its own files: a second run replaces them
