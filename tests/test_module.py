"""The SimCLR LightningModule: parameter groups, device-side views, optimisers and the LR schedule."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from augmentations import MultiView
from augmentations.presets import simclr_fashion_mnist
from simclr.data.datasets import TensorImages, collate_batch
from simclr.methods.simclr import SimCLR
from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead
from simclr.training.lars import LARS
from simclr.training.optim import param_groups


def tiny_model(optimizer=None, warmup_epochs=1.0, channels_last=False, compile=False) -> SimCLR:
    return SimCLR(
        encoder=ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1),
        augment=MultiView(simclr_fashion_mnist(28), n_views=2),
        head=lambda dim: ProjectionHead(dim, hidden_dim=32, out_dim=16),
        optimizer=optimizer,
        warmup_epochs=warmup_epochs,
        channels_last=channels_last,
        compile=compile,
    )


def loader(n=32, batch=8) -> DataLoader:
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8)
    return DataLoader(
        TensorImages(images, torch.arange(n) % 10),
        batch_size=batch,
        shuffle=True,
        drop_last=True,
        collate_fn=collate_batch,
    )


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def test_param_groups_exclude_biases_and_norms():
    model = tiny_model()
    decay, no_decay = param_groups(model)
    assert no_decay["weight_decay"] == 0.0 and no_decay["lars_exclude"] is True
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    n_all = sum(1 for p in model.parameters())
    assert len(decay["params"]) + len(no_decay["params"]) == n_all
    bn_weight = model.encoder.net.bn1.weight
    assert any(p is bn_weight for p in no_decay["params"])


def test_views_are_made_on_the_device_from_uint8():
    model = tiny_model()
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    fit = trainer(max_steps=1)
    model.trainer = fit
    fit.state.fn, fit.training = "fit", True
    views, labels = model.on_after_batch_transfer((images, torch.zeros(4)), 0)
    assert len(views) == 2 and views[0].dtype == torch.float32 and views[0].shape == (4, 1, 28, 28)
    assert not torch.equal(views[0], views[1])


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda p: LARS(p, lr=0.5),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
        lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-4),
    ],
    ids=["lars", "sgd", "adamw"],
)
def test_training_changes_weights_with_each_optimizer(optimizer):
    torch.manual_seed(0)
    model = tiny_model(optimizer)
    before = [p.detach().clone() for p in model.parameters()]
    fit = trainer(max_epochs=1)
    fit.fit(model, train_dataloaders=loader())
    assert torch.isfinite(fit.callback_metrics["train/loss"])
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()) if a.ndim > 1)
    groups = fit.optimizers[0].param_groups
    assert groups[1]["weight_decay"] == 0.0


def learning_rates(**trainer_options) -> list[float]:
    """The learning rate at each training step of a tiny model (SGD lr 1, warmup 1 epoch of 4 steps)."""
    model = tiny_model(lambda p: torch.optim.SGD(p, lr=1.0), warmup_epochs=1.0)
    lrs = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, *args):
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    trainer(callbacks=[Record()], **trainer_options).fit(model, train_dataloaders=loader(n=32, batch=8))
    return lrs


def test_schedule_warms_up_then_decays_to_zero():
    lrs = learning_rates(max_epochs=4)  # 4 steps an epoch, 16 in all, 4 of warmup
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))
    assert lrs[-1] < 0.02


def test_warmup_counts_epochs_when_max_steps_ends_the_run_early():
    lrs = learning_rates(max_epochs=20, max_steps=10)  # warmup is still 4 steps (one epoch) of the 10
    assert len(lrs) == 10 and lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_rejects_a_single_view():
    model = tiny_model()
    with pytest.raises(ValueError, match="at least 2 views"):
        model._shared_step([torch.randn(4, 1, 28, 28)], "train")


def test_every_view_and_the_labels_reach_the_loss():
    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, *views, labels=None):
            seen["shapes"], seen["labels"] = [tuple(v.shape) for v in views], labels
            return torch.stack(views).sum()

    model = tiny_model()
    model.loss = Recorder()
    labels = torch.arange(4)
    model._shared_step([torch.randn(4, 1, 28, 28)] * 3, "train", labels)
    assert seen["shapes"] == [(4, 16)] * 3
    assert seen["labels"] is labels


def test_channels_last_gives_the_same_loss():
    torch.manual_seed(0)
    views = [torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)]
    losses = []
    for channels_last in (False, True):
        torch.manual_seed(1)
        model = tiny_model(channels_last=channels_last)
        losses.append(model._shared_step(views, "train")["loss"])
    assert model.encoder.net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(losses[0], losses[1], atol=1e-4)
