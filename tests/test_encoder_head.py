import pytest
import torch
import torchvision

from simclr.errors import UserError
from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead

VARIANTS = [  # (layers, bottleneck, feature_dim)
    ([2, 2, 2, 2], False, 512),  # ResNet-18
    ([3, 4, 6, 3], False, 512),  # ResNet-34
    ([3, 4, 6, 3], True, 2048),  # ResNet-50
]


@pytest.mark.parametrize("layers,bottleneck,dim", VARIANTS)
@pytest.mark.parametrize("cifar_stem", [False, True])
def test_encoder_shapes(layers, bottleneck, dim, cifar_stem):
    enc = ResNetEncoder(layers=layers, bottleneck=bottleneck, cifar_stem=cifar_stem).eval()
    assert enc.feature_dim == dim
    with torch.no_grad():
        h = enc(torch.randn(2, 3, 32, 32))
    assert h.shape == (2, dim)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_encoder_channel_option(channels):
    enc = ResNetEncoder(layers=[1, 1, 1, 1], cifar_stem=True, in_channels=channels).eval()
    assert enc(torch.randn(2, channels, 28, 28)).shape == (2, 512)


def test_encoder_rejects_wrong_channel_count():
    enc = ResNetEncoder(layers=[1, 1, 1, 1], in_channels=1)
    with pytest.raises(ValueError, match="expects 1-channel images but got 3"):
        enc(torch.randn(2, 3, 28, 28))


def test_cifar_stem_keeps_resolution():
    enc = ResNetEncoder(layers=[1, 1, 1, 1], cifar_stem=True)
    assert enc.net.conv1.kernel_size == (3, 3) and enc.net.conv1.stride == (1, 1)
    assert isinstance(enc.net.maxpool, torch.nn.Identity)


def test_max_pool_option_doubles_the_resolution_of_every_stage():
    x = torch.randn(2, 1, 28, 28)

    def layer4_side(enc: ResNetEncoder) -> int:
        net = enc.net
        return net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.conv1(x)))))).shape[-1]

    pooled = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1)
    unpooled = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1, max_pool=False)
    assert layer4_side(pooled) == 1  # 28 -> 14 -> 7 -> 4 -> 2 -> 1
    assert layer4_side(unpooled) == 2  # 28 -> 14 -> 14 -> 7 -> 4 -> 2
    assert unpooled(x).shape == (2, 64) and unpooled.fresh_copy()._init_kwargs["max_pool"] is False


def test_backbone_state_dict_loads_strictly_into_torchvision():
    enc = ResNetEncoder().eval()
    ref = torchvision.models.resnet18()
    ref.load_state_dict(enc.backbone_state_dict(), strict=True)
    ref.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ref.eval()(x), enc(x), atol=1e-5)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_head_shapes_and_hidden_layers(num_layers):
    head = ProjectionHead(in_dim=512, hidden_dim=64 if num_layers > 1 else None, out_dim=16, num_layers=num_layers)
    h = torch.randn(4, 512)
    outs = head.forward_all(h)
    assert len(outs) == num_layers
    assert [o.shape[1] for o in outs] == [64] * (num_layers - 1) + [16]
    assert torch.equal(outs[-1], head(h))
    for o in outs[:-1]:
        assert (o >= 0).all()  # hidden layers end in ReLU


def test_head_options_that_would_be_ignored_or_empty_are_errors():
    with pytest.raises(UserError, match="hidden_dim 64 has no layer to size with num_layers 1"):
        ProjectionHead(in_dim=8, hidden_dim=64, num_layers=1)
    with pytest.raises(UserError, match="out_dim must be >= 1"):
        ProjectionHead(in_dim=8, out_dim=0)


def test_head_batch_norm_last():
    head = ProjectionHead(in_dim=8, hidden_dim=8, out_dim=4, num_layers=3, batch_norm_last=True)
    z = head(torch.randn(32, 8))
    assert torch.allclose(z.mean(0), torch.zeros(4), atol=1e-5)


def test_head_rejects_zero_layers():
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(in_dim=8, num_layers=0)


@pytest.mark.parametrize("bottleneck", [False, True])
def test_width_option_scales_channels(bottleneck):
    enc = ResNetEncoder(layers=[1, 1, 1, 1], bottleneck=bottleneck, width=16, in_channels=1).eval()
    assert enc.feature_dim == 16 * 8 * (4 if bottleneck else 1)
    assert enc.net.conv1.out_channels == 16 and enc.net.conv1.in_channels == 1
    assert enc(torch.randn(2, 1, 28, 28)).shape == (2, enc.feature_dim)
    n_params = sum(p.numel() for p in enc.parameters())
    full = sum(p.numel() for p in ResNetEncoder(layers=[1, 1, 1, 1], bottleneck=bottleneck, in_channels=1).parameters())
    assert n_params < full / 10  # quarter width: about 1/16 of the weights


@pytest.mark.parametrize("bottleneck", [False, True])
def test_stage_widths_set_each_stage(bottleneck):
    enc = ResNetEncoder(layers=[1, 1, 1, 1], bottleneck=bottleneck, in_channels=1, stage_widths=[8, 16, 16, 40]).eval()
    expansion = 4 if bottleneck else 1
    assert enc.feature_dim == 40 * expansion
    assert [enc.net.conv1.out_channels] + [
        getattr(enc.net, f"layer{i}")[0].conv1.out_channels for i in (1, 2, 3, 4)
    ] == [8, 8, 16, 16, 40]
    assert enc(torch.randn(2, 1, 28, 28)).shape == (2, 40 * expansion)
    assert enc.fresh_copy().feature_dim == enc.feature_dim
    same = ResNetEncoder(layers=[1, 1, 1, 1], in_channels=1, stage_widths=[8, 16, 32, 64])
    assert same.state_dict().keys() == ResNetEncoder(layers=[1, 1, 1, 1], in_channels=1, width=8).state_dict().keys()
    assert all(
        a.shape == b.shape
        for a, b in zip(
            same.state_dict().values(), ResNetEncoder(layers=[1, 1, 1, 1], in_channels=1, width=8).state_dict().values()
        )
    )


def test_stage_widths_must_be_four_positive():
    with pytest.raises(ValueError, match="stage_widths"):
        ResNetEncoder(stage_widths=[8, 16, 32])


def test_width_and_stage_widths_together_are_an_error():
    with pytest.raises(UserError, match=r"both width 16 and stage_widths \[8, 16, 32, 64\]; give one"):
        ResNetEncoder(width=16, stage_widths=[8, 16, 32, 64])


def test_cifar_stem_with_max_pool_is_an_error():
    with pytest.raises(UserError, match="the CIFAR stem has no max-pool"):
        ResNetEncoder(cifar_stem=True, max_pool=True)
    assert isinstance(ResNetEncoder(layers=[1, 1, 1, 1], width=8, cifar_stem=True).net.maxpool, torch.nn.Identity)


def test_default_width_is_torchvision():
    assert ResNetEncoder(layers=[1, 1, 1, 1]).feature_dim == 512


def test_zero_init_residual_with_width():
    enc = ResNetEncoder(layers=[1, 1, 1, 1], width=8, zero_init_residual=True)
    assert all((blk.bn2.weight == 0).all() for blk in [enc.net.layer1[0], enc.net.layer4[0]])
