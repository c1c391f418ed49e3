"""`simclr export` and `simclr probe` on checkpoints written by `simclr fit`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from helpers import fakedata

from simclr.cli.main import run_command
from simclr.methods.simclr import SimCLR
from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def short_fit(config: str, data_root: Path, root_dir: Path, *extra: str) -> list[str]:
    """`simclr fit` arguments of a 2-step CPU run of `config` on the data in `data_root`."""
    return ["fit", "--config", str(CONFIGS / config), "--data.init_args.root", str(data_root),
            "--data.init_args.batch_size", "8", "--trainer.accelerator", "cpu", "--trainer.max_steps", "2",
            "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(root_dir), *extra]  # fmt: skip


def pretrain(tmp: Path, config: str, data_root: Path, *extra: str) -> Path:
    """One short `simclr fit`; returns its last.ckpt."""
    logger = ["--trainer.logger.init_args.save_dir", str(tmp), "--trainer.logger.init_args.name", "",
              "--trainer.logger.init_args.version", ""]  # fmt: skip
    run_fit(short_fit(config, data_root, tmp, *logger, *extra))
    return tmp / "checkpoints" / "last.ckpt"  # name "" and version "": the run lives directly in tmp


@pytest.fixture(scope="module")
def cifar_ckpt(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cifar")
    return pretrain(tmp, "cifar10.yaml", fakedata.write_cifar10(tmp / "data"))


def test_export_loads_strictly_into_torchvision_and_gives_the_same_h(cifar_ckpt, tmp_path):
    out = tmp_path / "backbone.pt"
    run_command(["export", "--ckpt", str(cifar_ckpt), "--out", str(out)])
    resnet = torchvision.models.resnet18()
    resnet.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)  # the CIFAR stem
    resnet.maxpool = torch.nn.Identity()
    resnet.load_state_dict(torch.load(out, weights_only=True), strict=True)
    resnet.fc = torch.nn.Identity()
    encoder = SimCLR.load_from_checkpoint(cifar_ckpt, map_location="cpu").encoder.eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(resnet.eval()(x), encoder(x), atol=1e-5)


def test_export_of_a_missing_checkpoint_is_a_clear_error(tmp_path):
    exe = Path(sys.executable).parent / "simclr"
    out = subprocess.run(
        [str(exe), "export", "--ckpt", str(tmp_path / "nope.ckpt")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    assert "nope.ckpt does not exist" in out.stderr


def test_probe_writes_table_json_and_tensorboard_next_to_the_checkpoint(tmp_path, capsys):
    data_root = fakedata.write_fashion_mnist(tmp_path / "fmnist", n_train=64, n_test=32)
    ckpt = pretrain(tmp_path, "fashion_mnist.yaml", data_root)
    moved = tmp_path / "moved"
    data_root.rename(moved)  # data moved since pretraining: --root points the checkpoint's data module at it
    run_command(["probe", "--ckpt", str(ckpt), "--root", str(moved), "--max_iter", "5", "--knn_k", "5"])
    rows = json.loads((ckpt.parent / "probe.json").read_text())
    assert [r["representation"] for r in rows] == ["h", "head_1", "z", "random_h", "pixels"]
    for r in rows:
        assert set(r) == {"representation", "dim", "linear_top1", "knn_top1"}
        assert 0.0 <= r["linear_top1"] <= 1.0
        if r["representation"] in ("head_1", "random_h", "pixels"):  # kNN runs on h and z only
            assert r["knn_top1"] is None
        else:
            assert 0.0 <= r["knn_top1"] <= 1.0
    feature_dim = SimCLR.load_from_checkpoint(ckpt, map_location="cpu").encoder.feature_dim
    assert rows[0]["dim"] == feature_dim and rows[-1]["dim"] == 28 * 28
    table = (ckpt.parent / "probe.md").read_text()
    assert f"Test set: FashionMNIST test split (32 images) in {moved}." in table  # which images were scored
    h = rows[0]
    assert f"| h | {feature_dim} | {100 * h['linear_top1']:.2f} | {100 * h['knn_top1']:.2f} |" in table
    assert "| pixels | 784 |" in table and "| pixels | 784 |" in capsys.readouterr().out
    assert list((ckpt.parent / "probe").glob("events.out.tfevents.*"))
    diagnostics = json.loads((ckpt.parent / "diagnostics.json").read_text())
    assert set(diagnostics) == {"h", "z"} and diagnostics["h"]["rankme"] >= 1.0


def test_probe_of_a_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_command(["probe", "--ckpt", str(tmp_path / "missing.ckpt")])


def test_fit_runs_without_a_logger_or_checkpoints(tmp_path):
    """`--trainer.logger false` drops the default LR monitor and `--trainer.enable_checkpointing false`
    the default checkpoint callback, instead of Lightning rejecting the combination."""
    data_root = fakedata.write_fashion_mnist(tmp_path / "fmnist", n_train=32, n_test=16)
    off = ["--trainer.logger", "false", "--trainer.enable_checkpointing", "false"]
    cli = run_fit(short_fit("fashion_mnist.yaml", data_root, tmp_path / "run", *off))
    assert cli.trainer.global_step == 2 and cli.trainer.logger is None
    assert cli.trainer.checkpoint_callback is None
    assert not list(tmp_path.rglob("*.ckpt"))
