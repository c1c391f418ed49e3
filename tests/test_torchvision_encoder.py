"""TorchvisionEncoder: torchvision networks by name, without their classifier, on 1- or 3-channel images."""

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from simclr.errors import UserError
from simclr.models import TorchvisionEncoder
from simclr.models.torchvision_encoder import adapt_first_conv

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_VIT = dict(
    name="VisionTransformer",
    image_size=28,
    options=dict(patch_size=7, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64),
)

# (constructor arguments, image side, classifier that must be gone, width of h)
FAMILIES = [
    pytest.param(dict(TINY_VIT), 28, "heads.head", 32, id="tiny_vit"),
    pytest.param(dict(name="resnet18"), 32, "fc", 512, id="resnet18", marks=pytest.mark.slow),
    pytest.param(dict(name="convnext_tiny"), 32, "classifier.2", 768, id="convnext_tiny", marks=pytest.mark.slow),
    pytest.param(dict(name="efficientnet_b0"), 32, "classifier.1", 1280, id="efficientnet_b0", marks=pytest.mark.slow),
    pytest.param(dict(name="swin_t"), 32, "head", 768, id="swin_t", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("kwargs", "size", "classifier", "dim"), FAMILIES)
@pytest.mark.parametrize("in_channels", [1, 3])
def test_family_gives_h_of_feature_dim_without_classifier(kwargs, size, classifier, dim, in_channels):
    torch.manual_seed(0)
    encoder = TorchvisionEncoder(**kwargs, in_channels=in_channels)
    assert encoder.in_channels == in_channels
    assert encoder.feature_dim == dim
    assert isinstance(encoder.net.get_submodule(classifier), nn.Identity)
    assert not [m for m in encoder.net.modules() if isinstance(m, nn.Linear) and m.out_features == 1000]
    convs = [m for m in encoder.net.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].in_channels == in_channels
    h = encoder(torch.randn(2, in_channels, size, size))  # (B, feature_dim)
    assert h.shape == (2, dim)
    assert torch.isfinite(h).all()


def test_fresh_copy_has_the_same_shapes_and_new_weights():
    torch.manual_seed(0)
    encoder = TorchvisionEncoder(**TINY_VIT, in_channels=1)
    fresh = encoder.fresh_copy()
    assert isinstance(fresh, TorchvisionEncoder)
    assert (fresh.feature_dim, fresh.in_channels) == (encoder.feature_dim, encoder.in_channels)
    old, new = encoder.state_dict(), fresh.state_dict()
    assert old.keys() == new.keys()
    assert all(old[k].shape == new[k].shape for k in old)
    assert any(not torch.equal(old[k], new[k]) for k in old if old[k].is_floating_point() and old[k].numel() > 1)
    assert not torch.equal(encoder.net.conv_proj.weight, fresh.net.conv_proj.weight)


def test_backbone_state_dict_loads_strictly_into_the_torchvision_model():
    encoder = TorchvisionEncoder(**TINY_VIT)
    opts = TINY_VIT["options"]
    plain = torchvision.models.VisionTransformer(image_size=28, **opts)
    plain.load_state_dict(encoder.backbone_state_dict(), strict=True)
    head = plain.heads.head
    assert head.weight.shape == (1000, encoder.feature_dim) and not head.weight.any()
    plain.heads.head = nn.Identity()
    x = torch.randn(3, 3, 28, 28)
    torch.testing.assert_close(plain.eval()(x), encoder.eval()(x))


@pytest.mark.slow
def test_builder_backbone_state_dict_loads_strictly_into_get_model():
    encoder = TorchvisionEncoder("resnet18")
    torchvision.models.get_model("resnet18").load_state_dict(encoder.backbone_state_dict(), strict=True)


def test_bad_name_is_a_one_line_user_error_that_says_how_to_list_models():
    with pytest.raises(UserError, match="list_models") as err:
        TorchvisionEncoder("resnet_99")
    assert "\n" not in str(err.value) and "resnet_99" in str(err.value)


def test_argument_the_builder_rejects_is_a_one_line_user_error():
    with pytest.raises(UserError, match="image_size") as err:
        TorchvisionEncoder("mobilenet_v3_small", image_size=32)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="no weights"):
        TorchvisionEncoder("VisionTransformer", weights="DEFAULT", image_size=28, options=TINY_VIT["options"])


def test_wrong_channels_or_image_size_is_a_user_error():
    encoder = TorchvisionEncoder(**TINY_VIT, in_channels=1)
    with pytest.raises(UserError, match="in_channels to 3"):
        encoder(torch.zeros(2, 3, 28, 28))
    with pytest.raises(UserError, match="image_size: 32"):
        encoder(torch.zeros(2, 1, 32, 32))


@pytest.mark.parametrize("in_channels", [1, 6])
def test_adapted_first_conv_answers_a_grey_image_as_the_rgb_conv_does(in_channels):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    new = adapt_first_conv(conv, in_channels)
    assert (new.in_channels, new.out_channels, new.stride, new.padding) == (in_channels, 8, (2, 2), (1, 1))
    grey = torch.rand(2, 1, 9, 9)
    expected = conv(grey.expand(-1, 3, -1, -1))  # the same grey image in the three RGB channels
    torch.testing.assert_close(new(grey.expand(-1, in_channels, -1, -1)), expected)


@pytest.mark.slow
def test_vit_config_fast_dev_run_on_fake_data(tmp_path):
    from test_configs import fake_root, tiny

    from simclr.pretraining import run_fit

    config = "vit_fashion_mnist.yaml"
    cli = run_fit(
        ["fit", "--config", str(CONFIGS / config), *fake_root(config, tmp_path), *tiny(tmp_path)]
        + ["--trainer.fast_dev_run", "1"]
    )
    assert cli.trainer.state.finished
    assert isinstance(cli.model.encoder, TorchvisionEncoder) and cli.model.encoder.feature_dim == 192
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
