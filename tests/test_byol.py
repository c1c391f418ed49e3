"""BYOL: the loss against its formula, no gradient into the target, the target follows by momentum."""

import pytest
import torch

from augmentations.presets import simclr_fashion_mnist
from augmentations.views import MultiView
from simclr.losses.byol import byol_loss, normalized_mse
from simclr.methods.byol import BYOL
from simclr.models import ProjectionHead, ResNetEncoder


def tiny_byol() -> BYOL:
    torch.manual_seed(0)
    return BYOL(
        ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1),
        MultiView(simclr_fashion_mnist(size=28)),
        head=lambda d: ProjectionHead(d, hidden_dim=16, out_dim=8),
        predictor=lambda d: ProjectionHead(d, hidden_dim=16, out_dim=8),
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
    )


def test_normalized_mse_is_the_squared_distance_of_unit_vectors():
    gen = torch.Generator().manual_seed(0)
    p, z = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    squared = ((p / p.norm(dim=1, keepdim=True) - z / z.norm(dim=1, keepdim=True)) ** 2).sum(dim=1)
    assert torch.allclose(normalized_mse(p, z), squared.mean(), atol=1e-6)
    assert normalized_mse(p, 3 * p).abs() < 1e-6  # same direction: zero loss


def test_byol_loss_is_symmetric_over_view_pairs():
    gen = torch.Generator().manual_seed(1)
    p, z = torch.randn(2, 4, 6, generator=gen), torch.randn(2, 4, 6, generator=gen)
    want = (normalized_mse(p[0], z[1]) + normalized_mse(p[1], z[0])) / 2
    assert torch.allclose(byol_loss(p, z), want)
    p3 = torch.randn(3, 4, 6, generator=gen)  # multi-crop: a local view predicts both global targets
    pairs = [(0, 1), (1, 0), (2, 0), (2, 1)]
    want3 = torch.stack([normalized_mse(p3[i], z[j]) for i, j in pairs]).mean()
    assert torch.allclose(byol_loss(p3, z), want3)


def test_no_gradient_reaches_the_target():
    model = tiny_byol()
    views = [torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)]
    loss, h = model.step(views, None, "train")
    loss.backward()
    assert torch.isfinite(loss) and h.shape == (4, model.encoder.feature_dim)
    assert all(p.grad is None and not p.requires_grad for p in model.target_encoder.parameters())
    assert all(p.grad is None and not p.requires_grad for p in model.target_head.parameters())
    assert model.predictor.layers[0][0].weight.grad is not None
    trained = {id(p) for group in model.build_optimizer().param_groups for p in group["params"]}
    assert not trained & {id(p) for p in model.target_encoder.parameters()}  # the optimiser never sees the target


def test_a_target_gradient_would_change_the_loss_gradient():
    gen = torch.Generator().manual_seed(2)
    p, z = torch.randn(2, 4, 6, generator=gen, requires_grad=True), torch.randn(2, 4, 6, generator=gen)
    z.requires_grad_(True)
    byol_loss(p, z).backward()
    assert z.grad is None or torch.count_nonzero(z.grad) == 0
    assert torch.count_nonzero(p.grad) > 0


def test_target_follows_by_the_cosine_momentum_after_each_optimiser_step():
    import lightning as L

    model = tiny_byol()
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.zeros(16)), batch_size=8)
    taus = []

    class Spy(L.Callback):
        def on_train_batch_end(self, trainer, module, *args):  # runs after the module's own hook
            taus.append(module.current_momentum())

    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Spy()])  # fmt: skip
    first = model.target_encoder.net.conv1.weight.clone()
    trainer.fit(model, loader)
    assert taus == pytest.approx([0.99 + 0.01 * 0.5, 1.0])  # k/K = 1/2, then 2/2
    assert not torch.equal(first, model.target_encoder.net.conv1.weight)  # moved towards the online weights
