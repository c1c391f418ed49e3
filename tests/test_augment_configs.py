"""configs/augment/*.yaml stack on the dataset configs and train: stock kornia presets and kornia transforms
named by class_path in YAML, per-image parameters and independent views intact."""

from pathlib import Path

import pytest
import torch
from helpers import fakedata

from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow  # runs the CLI

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
AUGMENT_CONFIGS = sorted(p.name for p in (CONFIGS / "augment").glob("*.yaml"))
DATASETS = {"fashion_mnist": fakedata.write_fashion_mnist, "cifar10": fakedata.write_cifar10}


def bases(config: str) -> list[str]:
    """The dataset configs an augment config stacks on: the one its name ends with, else all of them."""
    named = [name for name in DATASETS if config.removesuffix(".yaml").endswith(name)]
    return named or list(DATASETS)


def fit(tmp: Path, dataset: str, *extra: str):
    root = DATASETS[dataset](tmp / dataset)
    args = ["fit", "--config", str(CONFIGS / f"{dataset}.yaml"), *extra, "--data.init_args.root", str(root)]
    args += ["--data.init_args.batch_size", "4", "--trainer.accelerator", "cpu", "--trainer.devices", "1"]
    args += ["--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp / "runs")]
    return run_fit([*args, "--trainer.fast_dev_run", "2"])


def check_views(cli, channels: int) -> None:
    """Views of 8 copies of one image differ from image to image and from view to view."""
    image = torch.randint(0, 256, (1, channels, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    views = cli.model.augment(image.expand(8, -1, -1, -1).contiguous())
    assert len(views) == 2 and all(torch.isfinite(v).all() for v in views)
    assert len({tuple(row) for row in views[0].flatten(1).round(decimals=4).tolist()}) == 8
    assert not torch.allclose(views[0], views[1])


@pytest.mark.parametrize(("config", "dataset"), [(c, d) for c in AUGMENT_CONFIGS for d in bases(c)])
def test_augment_config_trains(config, dataset, tmp_path):
    cli = fit(tmp_path, dataset, "--config", str(CONFIGS / "augment" / config))
    assert cli.trainer.state.finished and cli.trainer.global_step == 2
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    kornia_modules = [m for m in cli.model.augment.pipeline.transforms if type(m).__module__.startswith("kornia.")]
    assert len(kornia_modules) >= 3 if "transforms" in config else len(kornia_modules) >= 2
    check_views(cli, 1 if dataset == "fashion_mnist" else 3)


def test_backend_option_on_the_command_line(tmp_path):
    cli = fit(tmp_path, "fashion_mnist", "--model.augment.init_args.pipeline.init_args.backend", "kornia")
    names = [type(m).__name__ for m in cli.model.augment.pipeline.transforms]
    assert names == ["RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter"]
    assert all(type(m).__module__.startswith("kornia.") for m in cli.model.augment.pipeline.transforms)
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
