"""One test per use of Lightning's private names (simclr.safety.lightning_internals): a Lightning release
that renames or changes one fails here, with the hook's name, before it breaks a run."""

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from simclr.safety.lightning_internals import (
    CLIHooks,
    SaveLastEveryNSteps,
    attached_trainer,
    build_with_config,
    callback_state_key,
    given_hyperparameters,
    instantiate_saved,
    without_instantiator,
)


class Tiny(L.LightningModule):
    def __init__(self, width: int = 2):
        super().__init__()
        self.save_hyperparameters()
        self.seen_config = given_hyperparameters()
        self.layer = torch.nn.Linear(width, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.layer(batch[0]).pow(2).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class TinyData(L.LightningDataModule):
    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(12, 2)), batch_size=2)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 2)), batch_size=2)


def trainer(tmp_path: Path, callbacks: list, **kwargs) -> L.Trainer:
    options = dict(accelerator="cpu", max_epochs=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
    return L.Trainer(default_root_dir=tmp_path, callbacks=callbacks, **{**options, **kwargs})


def test_given_hyperparameters_is_none_outside_the_cli_and_the_config_inside(tmp_path):
    assert Tiny().seen_config is None
    cli = CLIHooks(Tiny, TinyData, run=False, args=["--model.width", "3", "--trainer.logger", "false"])
    assert cli.model.seen_config is not None and cli.model.seen_config["width"] == 3


def test_attached_trainer_is_none_until_fit_attaches_one(tmp_path):
    model = Tiny()
    assert attached_trainer(model) is None
    fit = trainer(tmp_path, [], max_steps=1, limit_val_batches=0)
    fit.fit(model, datamodule=TinyData())
    assert attached_trainer(model) is fit


def test_callback_state_key_names_the_class_and_arguments():
    key = callback_state_key(Callback(), num_classes=10)
    assert key == "Callback{'num_classes': 10}"


def test_save_last_every_n_steps_writes_last_before_the_first_validation_and_at_the_end(tmp_path):
    seen = []

    class Look(
        Callback
    ):  # runs before checkpoint callbacks (Lightning orders those last): sees step 4's save at step 5
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 5:
                seen.append(torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["global_step"])

    checkpoint = SaveLastEveryNSteps(
        dirpath=tmp_path / "ckpt", monitor="val/loss", save_last=True, every_n_train_steps=2
    )
    trainer(tmp_path, [checkpoint, Look()], max_steps=5).fit(Tiny(), datamodule=TinyData())  # 6 batches: no validation
    assert seen == [4]
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == 5  # the final weights


def test_save_last_every_n_steps_writes_nothing_in_a_fast_dev_run(tmp_path):
    checkpoint = SaveLastEveryNSteps(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=1)
    trainer(tmp_path, [checkpoint], fast_dev_run=2).fit(Tiny(), datamodule=TinyData())
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())


def test_cli_hooks_read_the_ckpt_path_and_select_callbacks(tmp_path):
    fit = trainer(tmp_path, [], max_steps=1, limit_val_batches=0)
    fit.fit(Tiny(width=2), datamodule=TinyData())
    path = tmp_path / "saved.ckpt"
    fit.save_checkpoint(path)
    read, selected = [], []

    class Hooks(CLIHooks):
        def read_ckpt_path(self, path, weights_only):
            read.append((path, weights_only))
            return super().read_ckpt_path(path, weights_only)

        def select_callbacks(self, trainer_config, callbacks):
            selected.append(trainer_config.get("max_steps"))
            return []

    args = [
        "fit",
        "--model.width",
        "3",
        "--trainer.logger",
        "false",
        "--trainer.enable_checkpointing",
        "false",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.max_steps",
        "1",
        "--trainer.enable_progress_bar",
        "false",
        "--ckpt_path",
        str(path),
    ]
    cli = Hooks(Tiny, TinyData, args=args, save_config_callback=None)
    assert read == [(str(path), True)] and selected == [1]
    assert cli.model.layer.in_features == 2  # the model config came from the checkpoint
    assert cli.trainer.global_step == 1
    assert Hooks(Tiny, TinyData, run=False, args=["--trainer.max_steps", "7"]).trainer_config()["max_steps"] == 7


class Wrapper(L.LightningModule):
    def __init__(self, inner: torch.nn.Module, scale: float = 1.0):
        super().__init__()
        self.save_hyperparameters()
        self.inner = inner


def test_build_with_config_saves_a_config_that_load_from_checkpoint_rebuilds_weights_only(tmp_path):
    config = {
        "inner": {"class_path": "torch.nn.Linear", "init_args": {"in_features": 3, "out_features": 2}},
        "scale": 2.0,
    }
    module = build_with_config(Wrapper, config)
    assert isinstance(module.inner, torch.nn.Linear) and module.inner.out_features == 2
    assert without_instantiator(dict(module.hparams)) == config
    path = tmp_path / "w.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": L.__version__}, path)  # fmt: skip
    loaded = Wrapper.load_from_checkpoint(path, weights_only=True)
    assert loaded.hparams.scale == 2.0 and torch.equal(loaded.inner.weight, module.inner.weight)


def test_instantiate_saved_keeps_the_saved_subclass():
    hparams = {"_class_path": "torch.nn.Identity", "_instantiator": "lightning.pytorch.cli.instantiate_module"}
    assert type(instantiate_saved(torch.nn.Module, hparams)) is torch.nn.Identity
