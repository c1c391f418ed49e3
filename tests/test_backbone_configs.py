"""The ViT and ConvNeXt configs work end to end like the ResNet ones: fit, then probe the checkpoint."""

import json
from pathlib import Path

import pytest
from test_configs import fake_root, tiny

from simclr.cli.main import run_command
from simclr.models import TorchvisionEncoder
from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow  # trains and probes through the CLI

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize(("config", "dim"), [("vit_fashion_mnist.yaml", 192), ("convnext_cifar10.yaml", 768)])
def test_backbone_config_fits_and_probes(config, dim, tmp_path):
    ckpt_dir = tmp_path / "ckpt"
    args = ["fit", "--config", str(CONFIGS / config), *fake_root(config, tmp_path), *tiny(tmp_path)]
    args += ["--trainer.max_steps", "2", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"]
    cli = run_fit([*args, "--checkpoint.dirpath", str(ckpt_dir)])
    assert isinstance(cli.model.encoder, TorchvisionEncoder) and cli.model.encoder.feature_dim == dim
    out = tmp_path / "probe"
    run_command(["probe", "--ckpt", str(ckpt_dir / "last.ckpt"), "--max_iter", "2", "--knn_k", "3",
                 "--baselines", "false", "--out_dir", str(out)])  # fmt: skip
    rows = {row["representation"]: row for row in json.loads((out / "probe.json").read_text())}
    assert list(rows) == ["h", "head_1", "z"] and rows["h"]["dim"] == dim
    assert all(0.0 <= row["linear_top1"] <= 1.0 for row in rows.values())
    assert "| h |" in (out / "probe.md").read_text()
