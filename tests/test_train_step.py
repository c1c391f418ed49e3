"""Training-step options: no host sync in the step, torch.compile, bf16-mixed, fused optimisers."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers.sync_guard import HostReadError, NoHostReads
from lightning.pytorch.callbacks import RichProgressBar
from test_module import loader, tiny_model, trainer

from augmentations import MultiView, presets
from simclr.training.lars import LARS
from simclr.training.online_probe import OnlineLinearProbe


class ForbidHostReads(L.Callback):
    """Watches every training batch for host reads, end to end. From the device-side augmentation to the
    step's `on_train_batch_end` (training_step, backward, optimiser, callbacks): `NoHostReads()`. From there
    to the next augmentation (Lightning's logger connector, the progress bar, fetching the next batch):
    the dispatch-level check only, since the sampler reads its CPU permutation with `tolist`. Register it
    last, so its `on_train_batch_end` runs after the other callbacks'."""

    def __init__(self) -> None:
        self.guard: NoHostReads | None = None
        self.steps = 0

    def switch(self, guard: NoHostReads | None) -> None:
        if self.guard is not None:
            self.guard.__exit__(None, None, None)
        self.guard = guard
        if guard is not None:
            guard.__enter__()

    def setup(self, trainer, pl_module, stage):
        augment = pl_module.on_after_batch_transfer

        def guarded(batch, dataloader_idx):
            if trainer.training:
                self.switch(NoHostReads())
            return augment(batch, dataloader_idx)

        pl_module.on_after_batch_transfer = guarded

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps += 1
        self.switch(NoHostReads(patch_methods=False) if self.steps < trainer.max_steps else None)

    def on_train_end(self, trainer, pl_module):
        self.switch(None)

    def on_exception(self, trainer, pl_module, exception):
        self.switch(None)


@pytest.mark.parametrize(
    "optimizer",
    [lambda p: LARS(p, lr=0.3), lambda p: torch.optim.AdamW(p, lr=1e-3, fused=True)],
    ids=["lars", "adamw-fused"],
)
def test_training_step_reads_nothing_back_to_the_host(optimizer):
    torch.manual_seed(0)
    guard = ForbidHostReads()
    # As the CLI trains: a rich progress bar and the online probe; logging every 1000 steps (a logging
    # step reads the logged values back, by design, once per interval).
    fit = L.Trainer(accelerator="cpu", max_steps=4, log_every_n_steps=1000, logger=False, enable_checkpointing=False,
                    enable_model_summary=False, callbacks=[RichProgressBar(), OnlineLinearProbe(num_classes=10), guard])  # fmt: skip
    try:
        fit.fit(tiny_model(optimizer), train_dataloaders=loader())
    finally:
        guard.switch(None)
    assert guard.steps == 4 and torch.isfinite(fit.callback_metrics["train/loss"])


def test_forbid_host_reads_catches_a_sync():
    class Syncing(type(tiny_model())):
        def training_step(self, batch, batch_idx):
            out = super().training_step(batch, batch_idx)
            if out["loss"] > 0:  # Python branching on a tensor value: a host sync on the GPU
                pass
            return out

    model = tiny_model()
    model.__class__ = Syncing
    guard = ForbidHostReads()
    with pytest.raises(HostReadError, match="_local_scalar_dense"):
        trainer(max_steps=1, callbacks=[guard]).fit(model, train_dataloaders=loader())
    guard.switch(None)


@pytest.mark.parametrize(
    "read",
    [
        lambda t: t.sum().item(),
        lambda t: t[t > 0.5],
        lambda t: t.nonzero(),
        lambda t: t.tolist(),
        lambda t: float(t.max()),
    ],
    ids=["item", "mask-index", "nonzero", "tolist", "float"],
)
def test_no_host_reads_catches_each_kind_of_read(read):
    x = torch.rand(8)
    with pytest.raises(HostReadError), NoHostReads():
        read(x)
    assert x.tolist()  # methods restored on exit


@pytest.mark.parametrize("preset", ["simclr_imagenet", "simclr_cifar", "simclr_fashion_mnist"])
def test_view_pipelines_read_nothing_back(preset):
    channels = 1 if preset == "simclr_fashion_mnist" else 3
    pipeline = MultiView(getattr(presets, preset)(24))
    images = torch.randint(0, 256, (8, channels, 32, 32), dtype=torch.uint8)
    with NoHostReads():
        views = pipeline(images)
    assert len(views) == 2 and views[0].shape == (8, channels, 24, 24)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA sync debug mode needs a GPU")
def test_training_step_does_not_synchronise_on_cuda():
    torch.manual_seed(0)
    model = tiny_model().cuda()
    optimizer = LARS(model.parameters(), lr=0.3)
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8, device="cuda")
    for step in range(2):  # step 0 warms up (lazy state, cuDNN autotuning may sync)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error" if step else "default")
        try:
            views = model.augment(images)
            loss = model._shared_step(views, "train")["loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(loss).item()


def test_compile_flag_compiles_encoder_and_head_in_place(monkeypatch):
    # Inductor's C++ code generation takes minutes on a 2-core CPU; the eager backend still traces the
    # encoder and head with dynamo (where models break), and keeps the test fast.
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: compile_(fn, backend="eager", fullgraph=True))
    views = [torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)]
    torch.manual_seed(1)
    eager = tiny_model()
    torch.manual_seed(1)
    flagged = tiny_model(compile=True)
    assert flagged.encoder._compiled_call_impl is not None and flagged.head._compiled_call_impl is not None
    assert list(flagged.state_dict()) == list(eager.state_dict())  # checkpoints keep their keys
    losses = [m._shared_step(views, "train")["loss"] for m in (eager, flagged)]
    torch.testing.assert_close(losses[0], losses[1], atol=1e-5, rtol=0)


def test_bf16_mixed_step_on_cpu():
    torch.manual_seed(0)
    fit = trainer(max_steps=2, precision="bf16-mixed")
    fit.fit(tiny_model(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, fused=True)), train_dataloaders=loader())
    assert torch.isfinite(fit.callback_metrics["train/loss"])
