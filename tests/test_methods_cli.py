"""Every configs/methods YAML trains through `simclr fit`; probe reads MoCo and BYOL checkpoints; `simclr compare`
writes its table, chart and TensorBoard log. All on tiny fake Fashion-MNIST."""

import json
from pathlib import Path

import pytest
import torch
from helpers import fakedata

from simclr.cli.main import run_command
from simclr.eval.probe_checkpoint import probe
from simclr.loading.pretrained import load_pretrained
from simclr.methods import BYOL, MoCo, SimCLR
from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow  # runs the CLI

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
METHODS = sorted(p.name for p in (CONFIGS / "methods").glob("*.yaml"))
CLASSES = {"simclr.yaml": SimCLR, "moco_v2.yaml": MoCo, "byol.yaml": BYOL, "patches.yaml": SimCLR}
TINY_MODEL = ["--model.init_args.encoder.init_args.stage_widths", "[4, 8, 8, 16]"]


def fit_args(method: str, tmp: Path, *extra: str) -> list[str]:
    root = fakedata.write_fashion_mnist(tmp / "fm")
    return [
        "fit", "--config", str(CONFIGS / "fashion_mnist.yaml"), "--config", str(CONFIGS / "methods" / method),
        *TINY_MODEL, "--data.init_args.root", str(root), "--data.init_args.batch_size", "8",
        "--trainer.accelerator", "cpu", "--trainer.max_steps", "3", "--trainer.limit_val_batches", "1",
        "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp / "runs"),
        "--trainer.logger.init_args.save_dir", str(tmp / "runs"), "--checkpoint.dirpath", str(tmp / "ckpt"), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_method_config_trains(method, tmp_path):
    cli = run_fit(fit_args(method, tmp_path))
    assert cli.trainer.global_step == 3
    assert isinstance(cli.model, CLASSES.get(method, SimCLR))
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert len(cli.model.augment(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))) == cli.model.augment.n_views


def test_byol_trains_on_multicrop_views(tmp_path):
    args = fit_args("byol.yaml", tmp_path, "--config", str(CONFIGS / "methods" / "multicrop.yaml"))
    cli = run_fit(args)
    assert isinstance(cli.model, BYOL) and cli.model.augment.n_views == 6
    assert cli.trainer.global_step == 3 and torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def test_the_dataset_config_alone_still_means_simclr(tmp_path):
    cli = run_fit(["--config", str(CONFIGS / "fashion_mnist.yaml"), "--trainer.logger", "false"], run=False)
    assert type(cli.model) is SimCLR


@pytest.mark.parametrize("method", ["moco_v2.yaml", "byol.yaml"])
def test_probe_loads_moco_and_byol_checkpoints(method, tmp_path):
    cli = run_fit(fit_args(method, tmp_path))
    last = tmp_path / "ckpt" / "last.ckpt"
    loaded = load_pretrained(str(last))
    assert type(loaded) is type(cli.model)
    for (name, want), got in zip(cli.model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(want, got), name  # MoCo's queue and pointer, BYOL's target included
    if method == "moco_v2.yaml":
        assert int(loaded.queue.ptr) == 3 * 8  # three steps of 8 keys
    report = probe(str(last), max_iter=3, knn_k=5, device="cpu", baselines=False, out_dir=str(tmp_path / "probe"))
    rows = json.loads(Path(report).read_text())
    assert "h" in json.dumps(rows)


def test_moco_resume_continues_with_the_saved_queue(tmp_path):
    run_fit(fit_args("moco_v2.yaml", tmp_path))
    last = str(tmp_path / "ckpt" / "last.ckpt")
    saved = load_pretrained(last).queue
    resumed = run_fit(fit_args("moco_v2.yaml", tmp_path, "--trainer.max_steps", "4", "--ckpt_path", last))
    assert resumed.trainer.global_step == 4
    assert int(resumed.model.queue.ptr) == 4 * 8
    assert torch.equal(resumed.model.queue.keys[: 3 * 8], saved.keys[: 3 * 8])  # older keys kept, new ones appended


def test_compare_writes_table_chart_and_tensorboard_with_the_baselines(tmp_path):
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    out = tmp_path / "cmp"
    args = [
        "--config", str(CONFIGS / "fashion_mnist.yaml"), *TINY_MODEL, "--data.init_args.root", str(root),
        "--methods", str(CONFIGS / "methods" / "simclr.yaml"), str(CONFIGS / "methods" / "byol.yaml"),
        "--max_steps", "2", "--batch_size", "8", "--train_images", "32", "--probe_images", "32",
        "--test_images", "16", "--probe_max_iter", "3", "--knn_k", "5", "--accelerator", "cpu", "--out_dir", str(out),
        "--data_file", str(tmp_path / "page.jsonl"),
    ]  # fmt: skip
    rows = json.loads(run_command(["compare", *args]).read_text())
    data = [json.loads(line) for line in (tmp_path / "page.jsonl").read_text().splitlines()]
    assert [(d["variant"], d["baseline"], d["pairs_seen"]) for d in data] == [
        ("simclr", False, 16), ("byol", False, 16), ("random_h", True, None), ("pixels", True, None)
    ]  # fmt: skip
    assert data[0]["methods"][0].endswith("simclr.yaml") and data[0]["metrics"]["h_knn_top1"] == rows[0]["knn_top1"]
    assert [(r["method"], r["model"], r["steps"]) for r in rows] == [
        ("simclr", "SimCLR", 2), ("byol", "BYOL", 2), ("random_h", "SimCLR", 0), ("pixels", "-", 0)
    ]  # fmt: skip
    assert all(0 <= r["linear_top1"] <= 1 and 0 <= r["knn_top1"] <= 1 for r in rows)
    assert all(r["seconds_per_step"] > 0 for r in rows[:2]) and rows[2]["seconds_per_step"] is None
    assert (out / "methods.csv").read_text().count("\n") == 5
    table = (out / "methods.md").read_text()
    assert "| byol | BYOL |" in table and "| pixels | - | 1 | 0 |" in table
    assert (out / "methods.png").stat().st_size > 0
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
