"""`simclr.make_trainer`: the Trainer of finetune and distill, for any LightningModule: it writes last.ckpt,
resumes from it exactly, and refuses a run without a length."""

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import simclr
from simclr.data.resumable import EpochRandomSampler, ResumableDataLoader
from simclr.errors import UserError
from simclr.safety.loss_guard import NonFiniteLossGuard
from simclr.safety.resume import ResumeCallback
from simclr.safety.sigint import StopOnSigint
from simclr.safety.sigterm import SaveOnSigterm


class Regression(L.LightningModule):
    """A linear model on fixed data: enough to check the trainer, not the methods."""

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def loader(seed: int = 0) -> ResumableDataLoader:
    generator = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(32, 4, generator=generator), torch.randn(32, 1, generator=generator))
    return ResumableDataLoader(data, batch_size=4, sampler=EpochRandomSampler(data, seed))


def test_a_run_writes_last_ckpt_and_resumes_to_the_same_weights(tmp_path):
    L.seed_everything(0)
    straight = Regression()
    simclr.make_trainer(tmp_path / "straight", "run", device="cpu", max_steps=12, every_n_train_steps=5).fit(
        straight, loader()
    )
    L.seed_everything(0)
    first = Regression()
    trainer = simclr.make_trainer(tmp_path / "resumed", "run", device="cpu", max_steps=5, every_n_train_steps=5)
    trainer.fit(first, loader())
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    assert last.is_file() and (tmp_path / "resumed" / "run").is_dir()  # checkpoint and TensorBoard run
    resumed = Regression()
    trainer = simclr.make_trainer(tmp_path / "resumed", "run", device="cpu", max_steps=12, every_n_train_steps=5)
    trainer.fit(resumed, loader(), ckpt_path=last, weights_only=True)
    assert trainer.global_step == 12
    for a, b in zip(straight.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_safety_callbacks_are_there_and_a_run_needs_a_length(tmp_path):
    trainer = simclr.make_trainer(tmp_path, "run", device="cpu", max_epochs=1, callbacks=[L.Callback()])
    kinds = {type(c) for c in trainer.callbacks}
    assert {ResumeCallback, NonFiniteLossGuard, SaveOnSigterm, StopOnSigint, L.Callback} <= kinds
    assert trainer.max_epochs == 1 and trainer.max_steps == -1
    with pytest.raises(UserError, match="make_trainer needs max_epochs or max_steps"):
        simclr.make_trainer(tmp_path, "run", device="cpu")
