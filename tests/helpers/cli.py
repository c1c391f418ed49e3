"""Running `simclr` in tests: a tiny config on fake data, fit arguments, and the one-line-error check."""

import sys
from pathlib import Path

import pytest
import yaml
from helpers import fakedata

from simclr.cli import main as cli_main

TINY = {  # a 1-channel ResNet at width 8: a step takes milliseconds
    "seed_everything": 3,
    "model": {
        "encoder": {
            "class_path": "simclr.models.ResNetEncoder",
            "init_args": {"layers": [1, 1, 1, 1], "width": 8, "in_channels": 1},
        },
        "head": {"class_path": "simclr.models.ProjectionHead", "init_args": {"hidden_dim": 16, "out_dim": 8}},
        "augment": {
            "class_path": "augmentations.MultiView",
            "init_args": {
                "pipeline": {"class_path": "augmentations.presets.simclr_fashion_mnist", "init_args": {"size": 28}}
            },
        },
        "loss": {"class_path": "simclr.losses.NTXentLoss", "init_args": {"temperature": 0.5}},
        "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1, "momentum": 0.9}},
    },
    "data": {"class_path": "simclr.data.FashionMNIST", "init_args": {"batch_size": 8}},
    "trainer": {
        "accelerator": "cpu",
        "max_epochs": 2,
        "limit_val_batches": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
    },
}


def write_tiny_config(folder: Path) -> Path:
    """tiny.yaml in `folder`, next to 64 + 32 fake Fashion-MNIST images (8 training steps per epoch)."""
    root = fakedata.write_fashion_mnist(folder / "fm")
    config = dict(TINY, data={**TINY["data"], "init_args": {**TINY["data"]["init_args"], "root": str(root)}})
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config))
    return folder / "tiny.yaml"


def run_args(tiny: Path, run: Path, *extra: str) -> list[str]:
    """`fit` arguments for a run whose logs and checkpoints live in `run` (checkpoints in run/ckpt)."""
    return ["fit", "--config", str(tiny), "--trainer.default_root_dir", str(run),
            "--trainer.logger.init_args.save_dir", str(run), "--checkpoint.dirpath", str(run / "ckpt"), *extra]  # fmt: skip


def user_error(monkeypatch, capsys, *args: str) -> str:
    """Runs the `simclr` entry point with `args`; asserts exit status 1 and one line on stderr, returns it."""
    monkeypatch.setattr(sys, "argv", ["simclr", *args])
    monkeypatch.delenv("SIMCLR_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("simclr: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]
