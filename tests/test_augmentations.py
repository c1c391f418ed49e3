"""Tests for the augmentation modules, ViewPipeline, MultiView and presets (shapes, ranges, randomness)."""

import kornia.augmentation as K
import pytest
import torch
from torch import nn

import augmentations as A
from augmentations.errors import ConfigError


def _uint8(batch: int, channels: int, size: int, device, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, channels, size, size), generator=generator, dtype=torch.uint8).to(device)


def _identical(batch: int, channels: int, size: int, device) -> torch.Tensor:
    """A batch of copies of one image: any difference across the batch comes from per-image parameters."""
    return _uint8(1, channels, size, device).expand(batch, -1, -1, -1).contiguous()


def _distinct_rows(x: torch.Tensor) -> int:
    return len({tuple(row) for row in x.flatten(1).cpu().round(decimals=5).tolist()})


BLOCKS = {
    "crop": lambda: A.crop(16),
    "cutout": A.cutout,
    "color": A.color,
    "sobel": A.sobel,
    "grayscale": A.grayscale,
    "noise": A.noise,
    "blur": lambda: A.blur(24),
    "rotate": A.rotate,
}
MODULES = {
    "RandomResizedCrop": lambda: A.RandomResizedCrop(16),
    "Resize": lambda: A.Resize(16),
    "RandomColorJitter": lambda: A.RandomColorJitter(p=1.0),
    "RandomGrayscale": lambda: A.RandomGrayscale(p=0.5),
    "RandomGaussianBlur": lambda: A.RandomGaussianBlur(5, p=1.0),
    "RandomSolarize": lambda: A.RandomSolarize(p=0.5),
    "RandomRot90": A.RandomRot90,
    "Sobel": A.Sobel,
    "RandomHorizontalFlip": A.RandomHorizontalFlip,
    "RandomCutout": lambda: A.RandomCutout(p=1.0),
    "RandomRotation": lambda: A.RandomRotation(degrees=45.0, p=1.0),
    "RandomGaussianNoise": lambda: A.RandomGaussianNoise(std=0.2, p=1.0),
}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_shape_dtype_range(device, name, channels):
    torch.manual_seed(0)
    module = MODULES[name]()
    images = _uint8(8, channels, 24, device).float() / 255
    out = module(images)
    side = 16 if name in ("RandomResizedCrop", "Resize") else 24
    assert type(out) is torch.Tensor and out.shape == (8, channels, side, side) and out.dtype == torch.float32
    assert out.device == images.device
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(
    "name,distinct",
    [
        ("RandomResizedCrop", 16),
        ("RandomColorJitter", 16),
        ("RandomGaussianBlur", 16),
        ("RandomCutout", 16),
        ("RandomRot90", 3),
    ],  # fmt: skip
)
def test_module_draws_per_image(device, name, distinct):
    torch.manual_seed(0)
    images = _identical(16, 3, 24, device).float() / 255
    assert _distinct_rows(MODULES[name]()(images)) == distinct


def test_color_jitter_order_varies_per_image(device, monkeypatch):
    seen = {}

    def spy(images, brightness, contrast, saturation, hue, order):
        seen.update(brightness=brightness, hue=hue, order=order)
        return images

    monkeypatch.setattr(A.ops, "color_jitter", spy)
    torch.manual_seed(0)
    A.RandomColorJitter(0.4, 0.4, 0.4, 0.1, p=0.5)(torch.rand(64, 3, 4, 4, device=device))
    order, brightness, hue = seen["order"].cpu(), seen["brightness"].cpu(), seen["hue"].cpu()
    assert torch.equal(order.sort(dim=1).values, torch.arange(4).expand(64, 4))  # permutations
    assert len({tuple(o) for o in order.tolist()}) > 8
    identity = brightness == 1
    assert 10 < identity.sum() < 54  # p = 0.5: unselected images get identity factors
    assert (hue[identity] == 0).all() and (hue.abs() <= 0.1).all()
    assert brightness.min() >= 0.6 and brightness.max() <= 1.4


def test_view_pipeline_normalises_values_in_unit_range(device):
    torch.manual_seed(0)
    mean, std = [0.2, 0.5, 0.7], [0.3, 0.25, 0.1]
    pipeline = A.ViewPipeline(A.crop(16) + A.color(), mean, std).to(device)
    out = pipeline(_uint8(8, 3, 24, device))
    assert out.shape == (8, 3, 16, 16) and out.dtype == torch.float32 and out.device.type == device.type
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    unnormalised = out * std_t + mean_t
    assert unnormalised.min() >= -1e-5 and unnormalised.max() <= 1 + 1e-5


def test_view_pipeline_uint8_and_float_inputs_agree(device):
    images = _uint8(4, 3, 8, device)
    pipeline = A.ViewPipeline([], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    expected = (images.float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(pipeline(images), expected)
    torch.testing.assert_close(pipeline(images.float() / 255), expected)


def test_view_pipeline_channel_mismatch_raises(device):
    pipeline = A.simclr_cifar()
    with pytest.raises(ValueError, match="3 channels but images have 1"):
        pipeline(_uint8(2, 1, 32, device))
    with pytest.raises(ValueError, match="std"):
        A.ViewPipeline([], [0.5, 0.5], [0.5])


def test_multiview_shapes_and_views_differ(device):
    torch.manual_seed(0)
    views = A.MultiView(A.simclr_cifar(size=16), n_views=3)(_uint8(8, 3, 24, device))
    assert isinstance(views, list) and len(views) == 3
    assert all(v.shape == (8, 3, 16, 16) and v.dtype == torch.float32 for v in views)
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        per_image_diff = (views[a] - views[b]).flatten(1).abs().amax(dim=1)
        assert (per_image_diff > 1e-3).all()  # every image's views differ


def test_identical_images_get_different_views(device):
    torch.manual_seed(0)
    out = A.simclr_imagenet(size=16)(_identical(12, 3, 24, device))
    assert _distinct_rows(out) == 12


def test_same_seed_same_views_different_seed_differs(device):
    images = _uint8(8, 3, 24, device)
    multiview = A.MultiView(A.simclr_imagenet(size=16))

    def views(seed):
        torch.manual_seed(seed)
        return torch.cat(multiview(images))

    assert torch.equal(views(3), views(3))
    assert not torch.allclose(views(3), views(4))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_runs_on_uint8_batch(device, name, channels):
    torch.manual_seed(0)
    block = BLOCKS[name]()
    assert isinstance(block, list) and all(isinstance(m, nn.Module) for m in block)
    pipeline = A.compose([block], [0.5] * channels, [0.5] * channels)
    out = pipeline(_uint8(8, channels, 24, device))
    side = 16 if name == "crop" else 24
    assert out.shape == (8, channels, side, side) and out.dtype == torch.float32
    assert out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5  # (x - 0.5) / 0.5 with x in [0, 1]


def test_blocks_concatenate(device):
    pipeline = A.compose([A.crop(16), A.color(0.5), A.blur(16), A.rotate()], A.IMAGENET_MEAN, A.IMAGENET_STD)
    assert len(pipeline.transforms) == 2 + 2 + 1 + 1
    assert pipeline(_uint8(4, 3, 24, device)).shape == (4, 3, 16, 16)


PRESETS = {
    "simclr_imagenet": lambda c: A.simclr_imagenet(size=16, mean=[0.5] * c, std=[0.25] * c),
    "simclr_cifar": lambda c: A.simclr_cifar(size=16, mean=[0.5] * c, std=[0.25] * c),
    "simclr_fashion_mnist": lambda c: A.simclr_fashion_mnist(size=16, mean=[0.5] * c, std=[0.25] * c),
    "crop_only": lambda c: A.crop_only(16, mean=[0.5] * c, std=[0.25] * c),
    "color_only": lambda c: A.color_only(strength=0.5, mean=[0.5] * c, std=[0.25] * c),
    "color_only_resized": lambda c: A.color_only(size=16, mean=[0.5] * c, std=[0.25] * c),
}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_runs_on_uint8_batch(device, name, channels):
    torch.manual_seed(0)
    pipeline = PRESETS[name](channels)
    assert isinstance(pipeline, A.ViewPipeline)
    out = pipeline(_uint8(8, channels, 24, device))
    side = 24 if name == "color_only" else 16
    assert out.shape == (8, channels, side, side) and out.dtype == torch.float32
    assert (out * 0.25 + 0.5).min() >= -1e-5 and (out * 0.25 + 0.5).max() <= 1 + 1e-5


def test_preset_defaults(device):
    torch.manual_seed(0)
    assert A.simclr_cifar()(_uint8(2, 3, 32, device)).shape == (2, 3, 32, 32)
    assert A.simclr_fashion_mnist()(_uint8(2, 1, 28, device)).shape == (2, 1, 28, 28)
    assert A.simclr_imagenet(size=64)(_uint8(2, 3, 80, device)).shape == (2, 3, 64, 64)
    assert [A.blur_kernel_size(s) for s in (224, 96, 32)] == [23, 9, 3]
    blur = A.simclr_imagenet().transforms[-1]
    assert isinstance(blur, A.RandomGaussianBlur) and blur.kernel_size == 23 and blur.p == 0.5


def test_preset_is_a_lightning_cli_class_path_target():
    import jsonargparse  # a dependency: a missing one fails, never skips

    parser = jsonargparse.ArgumentParser()
    parser.add_argument("--augment", type=nn.Module)
    config = parser.parse_args(
        ['--augment={"class_path": "augmentations.simclr_cifar", "init_args": {"size": 16, "strength": 0.25}}']
    )
    augment = parser.instantiate(config).augment
    assert isinstance(augment, A.ViewPipeline)
    assert augment(_uint8(2, 3, 32, "cpu")).shape == (2, 3, 16, 16)


def test_normalise_is_the_unaugmented_view():
    presets, MultiView = A.presets, A.MultiView
    pipeline = presets.simclr_cifar(32)
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    expected = (images.float() / 255 - torch.tensor(presets.CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        presets.CIFAR10_STD
    ).view(1, 3, 1, 1)
    assert torch.allclose(pipeline.normalise(images), expected, atol=1e-6)
    assert torch.equal(MultiView(pipeline).normalise(images), pipeline.normalise(images))


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: A.RandomResizedCrop(28, scale=(1.0, 0.2)), "RandomResizedCrop scale must be a range (low, high)"),
        (lambda: A.RandomResizedCrop(28, ratio=(2.0, 0.5)), "RandomResizedCrop ratio must be a range (low, high)"),
        (lambda: A.RandomResizedCrop(0), "RandomResizedCrop size must be >= 1 pixel, got 0"),
        (lambda: A.crop(28, scale=(0.9, 0.1), backend="kornia"), "RandomResizedCrop (kornia) scale must be a range"),
        (lambda: A.jitter(p=1.5, backend="kornia"), "ColorJitter (kornia) p must be a probability in [0, 1], got 1.5"),
        (
            lambda: A.ViewPipeline([K.RandomSharpness(0.5, p=2.0)], [0.5], [0.5]),
            "ViewPipeline transforms[0] RandomSharpness p must be a probability in [0, 1], got 2.0",
        ),
    ],  # fmt: skip
)
def test_out_of_range_options_raise_config_error_when_built(build, expected):
    with pytest.raises(ConfigError) as error:
        build()
    assert expected in str(error.value)
