"""Gradient caching (`SimCLR(chunk_size=...)`) gives the full-batch gradient for NT-Xent, sigmoid and SupCon at
chunk sizes that do and do not divide the batch; both passes see the same views and random state; with
BatchNorm the statistics are per chunk and a run still learns; activation checkpointing changes no gradient."""

import pytest
import torch
from torch import nn

from simclr.losses import NTXentLoss, SigmoidLoss, SupConLoss
from simclr.methods.base import encode_views
from simclr.models import ProjectionHead, ResNetEncoder
from simclr.training.grad_cache import cached_embeddings

B, V = 10, 2


def parts(norm: str = "group", dropout: float = 0.0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    encoder = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1, cifar_stem=True, norm=norm)
    head = nn.Sequential(nn.Dropout(dropout), ProjectionHead(encoder.feature_dim, hidden_dim=16, out_dim=8))
    for m in head.modules():  # the head's BatchNorm in eval mode: no batch statistics anywhere
        if isinstance(m, nn.BatchNorm1d):
            m.eval()
    return encoder, head


def batch() -> tuple[list[torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(B, 1, 16, 16, generator=g) for _ in range(V)], torch.randint(0, 3, (B,), generator=g)


LOSSES = {
    "nt_xent": lambda: NTXentLoss(temperature=0.2, learnable_temperature=True),
    "sigmoid": lambda: SigmoidLoss(),
    "supcon": lambda: SupConLoss(temperature=0.2),
}


def gradients(loss_name: str, chunk_size: int | None, norm: str = "group") -> tuple[torch.Tensor, list[torch.Tensor]]:
    encoder, head = parts(norm)
    loss_fn = LOSSES[loss_name]()
    views, labels = batch()

    def embed(images: slice) -> torch.Tensor:
        part = [v[images] for v in views]
        return head(encode_views(encoder, part)).unflatten(0, (V, part[0].shape[0]))

    if chunk_size is None:
        z = embed(slice(0, B))
    else:
        z = cached_embeddings(embed, B, chunk_size, [encoder, head], torch.device("cpu"), dim=1)
    loss = loss_fn(*z, labels=labels)
    loss.backward()
    params = [*encoder.parameters(), *head.parameters(), *loss_fn.parameters()]
    return loss.detach(), [p.grad.clone() for p in params]


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("chunk_size", [5, 3])  # divides B = 10, does not
def test_cached_gradients_equal_the_full_batch(loss_name, chunk_size):
    full_loss, full = gradients(loss_name, None)
    cached_loss, cached = gradients(loss_name, chunk_size)
    torch.testing.assert_close(cached_loss, full_loss)
    assert len(cached) == len(full)
    for got, want in zip(cached, full):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)  # float32 sums in another order


def test_both_passes_see_the_same_views_and_random_state():
    encoder, head = parts(dropout=0.5)
    views, _ = batch()
    seen: list[tuple[slice, list[torch.Tensor], torch.Tensor]] = []

    def embed(images: slice) -> torch.Tensor:
        part = [v[images] for v in views]
        z = head(encode_views(encoder, part)).unflatten(0, (V, part[0].shape[0]))
        seen.append((images, part, z.detach().clone()))
        return z

    torch.manual_seed(3)
    z = cached_embeddings(embed, B, 4, [encoder, head], torch.device("cpu"), dim=1)
    after_first_pass = torch.get_rng_state()
    z.square().sum().backward()
    first, replayed = seen[:3], seen[3:]
    assert [s for s, _, _ in first] == [s for s, _, _ in replayed]
    for (_, views_a, z_a), (_, views_b, z_b) in zip(first, replayed):
        assert all(a.data_ptr() == b.data_ptr() and a.shape == b.shape for a, b in zip(views_a, views_b))  # made once
        torch.testing.assert_close(z_a, z_b, rtol=0, atol=0)  # dropout replayed: the same network
    assert torch.equal(torch.get_rng_state(), after_first_pass)  # the replay leaves the random stream alone
    encoder2, head2 = parts(dropout=0.5)
    torch.manual_seed(3)  # the same chunks with their graphs kept: the gradients the replay must give
    z2 = torch.cat([head2(encode_views(encoder2, [v[s] for v in views])).unflatten(0, (V, s.stop - s.start))
                    for s in (slice(0, 4), slice(4, 8), slice(8, 10))], dim=1)  # fmt: skip
    z2.square().sum().backward()
    for got, want in zip([*encoder.parameters(), *head.parameters()], [*encoder2.parameters(), *head2.parameters()]):
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-4, atol=1e-6)


def test_batch_norm_statistics_are_updated_once_per_chunk():
    encoder, head = parts(norm="batch")
    views, _ = batch()
    bn = encoder.net.bn1
    before = bn.num_batches_tracked.clone()

    def embed(images: slice) -> torch.Tensor:
        return head(encode_views(encoder, [v[images] for v in views])).unflatten(0, (V, images.stop - images.start))

    z = cached_embeddings(embed, B, 5, [encoder, head], torch.device("cpu"), dim=1)
    assert torch.equal(bn.num_batches_tracked, before)  # the first pass leaves them as they were
    loss = NTXentLoss(0.2)(*z)
    assert torch.isfinite(loss)
    loss.backward()
    assert int(bn.num_batches_tracked - before) == 2  # one update per chunk, by the replay


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_activation_checkpointing_gives_the_same_gradients(norm):
    torch.manual_seed(0)
    plain = ResNetEncoder(layers=[2, 1, 1, 1], width=8, in_channels=1, cifar_stem=True, norm=norm)
    checkpointed = ResNetEncoder(layers=[2, 1, 1, 1], width=8, in_channels=1, cifar_stem=True, norm=norm,
                                 checkpointing=True)  # fmt: skip
    checkpointed.load_state_dict(plain.state_dict())  # the same keys: checkpoints are interchangeable
    x = torch.randn(6, 1, 16, 16)
    for model in (plain, checkpointed):
        model(x).square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-6, msg=name)
    for a, b in zip(plain.buffers(), checkpointed.buffers()):  # BatchNorm statistics updated once, not twice
        torch.testing.assert_close(b, a)


@pytest.mark.parametrize(
    "name, options, size",
    [
        ("resnet18", {}, 32),
        ("VisionTransformer", {"patch_size": 4, "num_layers": 2, "num_heads": 2, "hidden_dim": 16, "mlp_dim": 32}, 16),
    ],
)
def test_torchvision_encoders_checkpoint_resnet_stages_and_vit_blocks(name, options, size):
    from simclr.models.checkpointing import CheckpointedSequential
    from simclr.models.torchvision_encoder import TorchvisionEncoder

    image_size = size if name == "VisionTransformer" else None
    torch.manual_seed(0)
    plain = TorchvisionEncoder(name, image_size=image_size, options=options)
    checkpointed = TorchvisionEncoder(name, image_size=image_size, options=options, checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    assert any(isinstance(m, CheckpointedSequential) for m in checkpointed.modules())
    x = torch.randn(4, 3, size, size)
    for model in (plain, checkpointed):
        model(x).square().sum().backward()
    for (pname, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=pname)
