"""Every loss config in configs/loss/ stacks on configs/fashion_mnist.yaml and trains (tiny budget, fake data)."""

from pathlib import Path

import pytest
import torch
from helpers import fakedata

from simclr.losses.nt_xent import NTXentLoss
from simclr.losses.sigmoid import SigmoidLoss
from simclr.losses.supcon import SupConLoss
from simclr.pretraining import run_fit
from simclr.training.optim import param_groups
from simclr.training.pair_budget import ConstantPairsBudget

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LOSS_CONFIGS = sorted(p.name for p in (CONFIGS / "loss").glob("*.yaml"))
EXPECTED = {"sigmoid.yaml": SigmoidLoss, "supcon.yaml": SupConLoss}


def fit(tmp: Path, *extra: str):
    root = fakedata.write_fashion_mnist(tmp / "fmnist")
    return run_fit(
        [
            "fit",
            "--config",
            str(CONFIGS / "fashion_mnist.yaml"),
            *extra,
            "--data.init_args.root",
            str(root),
            "--data.init_args.batch_size",
            "4",
            "--trainer.accelerator",
            "cpu",
            "--trainer.devices",
            "1",
            "--trainer.logger.init_args.save_dir",
            str(tmp / "runs"),
            "--trainer.default_root_dir",
            str(tmp / "runs"),
        ]
    )


@pytest.mark.parametrize("config", LOSS_CONFIGS)
def test_loss_config_fast_dev_run(config, tmp_path):
    cli = fit(tmp_path, "--config", str(CONFIGS / "loss" / config), "--trainer.fast_dev_run", "1")
    assert cli.trainer.state.finished
    assert isinstance(cli.model.loss, EXPECTED.get(config, NTXentLoss))
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    if config == "nt_xent_4_views.yaml":
        assert cli.model.augment.n_views == 4
    if config.startswith("drop_"):  # drop_<what>.yaml drops <what>
        assert cli.model.loss.pruning.fraction == 0.5 and config.startswith(f"drop_{cli.model.loss.pruning.drop}")


@pytest.mark.parametrize("config", ["nt_xent_learnable.yaml", "sigmoid.yaml"])
def test_learnt_loss_parameters_are_optimised(config, tmp_path):
    cli = fit(
        tmp_path,
        "--config",
        str(CONFIGS / "loss" / config),
        "--trainer.max_steps",
        "2",
        "--trainer.limit_val_batches",
        "0",
        "--trainer.enable_progress_bar",
        "false",
    )
    loss_params = list(cli.model.loss.parameters())
    assert loss_params, "the loss has no learnable parameters"
    no_decay = param_groups(cli.model)[1]["params"]
    assert all(any(p is q for q in no_decay) for p in loss_params)  # 0-d: no weight decay, no LARS
    optimised = [p for group in cli.trainer.optimizers[0].param_groups for p in group["params"]]
    assert all(any(p is q for q in optimised) for p in loss_params)
    assert cli.model.loss.temperature.log_inv.item() != pytest.approx(
        torch.tensor(1 / cli.model.loss.temperature.value).log().item(), abs=1e-7
    )


def test_constant_pairs_budget_doubles_the_steps(tmp_path):
    cli = fit(
        tmp_path,
        "--config",
        str(CONFIGS / "loss" / "drop_hardest_constant_pairs.yaml"),
        "--trainer.max_steps",
        "3",
        "--trainer.limit_val_batches",
        "0",
        "--trainer.enable_progress_bar",
        "false",
    )
    assert any(isinstance(cb, ConstantPairsBudget) for cb in cli.trainer.callbacks)
    assert cli.trainer.global_step == 6  # 3 / (1 - 0.5)
