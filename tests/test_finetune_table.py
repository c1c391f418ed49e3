"""benchmarks/finetune_table.py at a tiny size: every column at two label fractions (the probe, LP-FT and scratch
columns from one comparison of `simclr finetune`), and the probe comparison."""

import json
import sys
from pathlib import Path

import pytest
from helpers.cli import run_args

from simclr.pretraining import run_fit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import finetune_table  # noqa: E402


@pytest.mark.slow
def test_finetune_table_writes_every_column(tiny, trained, tmp_path):
    v2 = tmp_path / "v2"
    head = Path(__file__).parents[1] / "configs" / "heads" / "simclr_v2_head.yaml"
    run_fit(run_args(tiny, v2, "--config", str(head), "--trainer.max_steps", "1"))
    out = tmp_path / "table.json"
    finetune_table.main(["--ckpt", str(trained), "--ckpt_v2", str(v2 / "ckpt" / "last.ckpt"), "--fractions", "0.5",
                         "1.0", "--steps", "1", "--batch_size", "8", "--probe_epochs", "1", "--out_dir",
                         str(tmp_path / "runs"), "--out", str(out)])  # fmt: skip
    record = json.loads(out.read_text())
    rows = [r for r in record["results"] if "label_fraction" in r]
    assert [(r["label_fraction"], r["labelled_images"], r["steps"]) for r in rows] == [(0.5, 30, 1), (1.0, 64, 1)]
    assert all(0 <= r[c] <= 1 for r in rows for c in finetune_table.COLUMNS)
    assert finetune_table.COLUMNS == ["scratch", "probe_h", "finetune_h", "probe_head_1", "finetune_head_1", "distill"]
    recipes = [
        r["recipe"] for r in json.loads((tmp_path / "runs" / "runs" / "0.5-seed0" / "finetune.json").read_text())
    ]
    assert recipes == ["probe", "lp-ft", "scratch", "probe", "lp-ft", "probe", "lp-ft", "distill"]
    assert [r["solver"] for r in record["results"] if "solver" in r] == ["lbfgs", "sgd"]
    table = out.with_suffix(".md").read_text()
    assert "| 50% | 30 | 1 |" in table and "| sgd |" in table


@pytest.mark.slow
def test_finetune_table_without_a_v2_run_leaves_its_columns_empty(trained, tmp_path):
    out = tmp_path / "table.json"
    finetune_table.main(["--ckpt", str(trained), "--fractions", "0.5", "--steps", "1", "--batch_size", "8",
                         "--probe", "0", "--out_dir", str(tmp_path / "runs"), "--out", str(out)])  # fmt: skip
    (row,) = json.loads(out.read_text())["results"]
    assert row["probe_head_1"] is None and row["finetune_head_1"] is None and row["distill"] is None
    assert all(0 <= row[c] <= 1 for c in ("scratch", "probe_h", "finetune_h"))
    table = out.with_suffix(".md").read_text()
    assert "| 50% | 30 | 1 | 1 | " in table  # fraction, labelled images, steps, seeds
    assert "| scratch | probe on h | LP-FT from h |" in table and "head_1" not in table and "distilled" not in table
