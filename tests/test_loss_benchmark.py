"""benchmarks/loss_comparison.py runs at a tiny size (fake data) and records the pinned model with its results."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from helpers.fakedata import write_fashion_mnist

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import loss_comparison  # noqa: E402


@pytest.mark.slow
def test_loss_comparison_json(tmp_path, capsys):
    root = write_fashion_mnist(tmp_path / "fmnist", n_train=128, n_test=40)
    out = tmp_path / "out"
    loss_comparison.main(
        ["--root", str(root), "--images", "64", "--batches", "16", "32", "--prune_batch", "32", "--probe_train", "100"]
        + ["--out", str(out)]
    )
    record = json.loads((out / "loss_comparison.json").read_text())
    assert record["model"] == loss_comparison.MODEL and record["loss_settings"] == loss_comparison.LOSSES
    assert record["base_config"] == "configs/fashion_mnist.yaml"
    assert [(r["loss"], r["batch"], r["steps"]) for r in record["losses"]] == [
        ("nt_xent", 16, 4),
        ("sigmoid", 16, 4),
        ("nt_xent", 32, 2),
        ("sigmoid", 32, 2),
    ]
    assert [r["dropped"] for r in record["pruning"]] == ["none", "hardest", "easiest", "random"]
    assert record["pruning"][0]["run"] == "nt_xent_b32"  # the unpruned row reuses the loss table's run
    for row in record["losses"] + record["pruning"] + [{"h_linear_top1": record["random_encoder_h_top1"]}]:
        assert 0 <= row["h_linear_top1"] <= 1
    for row in record["losses"] + record["pruning"]:
        args = row["fit_args"]
        assert args[:2] == ["--config", str(loss_comparison.BASE)]
        settings = dict(zip(args[2::2], args[3::2]))  # then "--key", "value" pairs
        for key, value in loss_comparison.MODEL.items():
            assert settings[f"--{key}"] == value, key
    dropped = {r["dropped"]: dict(zip(r["fit_args"][2::2], r["fit_args"][3::2])) for r in record["pruning"][1:]}
    for drop, settings in dropped.items():
        assert settings["--model.loss.init_args.pruning.init_args.drop"] == drop
    printed = capsys.readouterr().out
    widths = loss_comparison.MODEL["model.encoder.init_args.stage_widths"]
    assert f"--model.encoder.init_args.stage_widths {shlex.quote(widths)}" in printed
    assert "| negatives dropped | h top-1 |" in printed and f"wrote {out / 'loss_comparison.json'}" in printed
