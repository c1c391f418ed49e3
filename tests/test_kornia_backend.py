"""backend="kornia": every block and preset on stock kornia.augmentation draws the fast ops' distribution.

The distribution tests compare the parameters each backend samples for thousands of images (fast modules'
`draw`, kornia's `forward_parameters`) with a two-sample Kolmogorov-Smirnov statistic or a rate difference;
each also shows that a wrong parameter (a different range or probability) exceeds the same tolerance.
"""

import kornia.augmentation as K
import pytest
import torch

import augmentations as A
from augmentations.errors import ConfigError

N = 4000  # images per draw
RATE_TOL = 0.05  # 4.5 standard errors of a difference of two rates at p = 0.5, n = 4000


def ks(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (exact with ties), divided by its critical
    value at alpha ~ 5e-4 (2.0 * sqrt((n + m) / (n m))): below 1 means "same distribution"."""
    a, b = a.flatten().double().sort().values, b.flatten().double().sort().values
    points = torch.cat([a, b])
    fa = torch.searchsorted(a, points, right=True) / len(a)
    fb = torch.searchsorted(b, points, right=True) / len(b)
    critical = 2.0 * ((len(a) + len(b)) / (len(a) * len(b))) ** 0.5
    return (fa - fb).abs().max().item() / critical


KS_TOL = 1.0  # ks() is in units of the critical value


def images(channels: int = 3, size: int = 32) -> torch.Tensor:
    return torch.zeros(N, channels, size, size)


def fast_boxes(module: A.RandomResizedCrop, x: torch.Tensor) -> dict[str, torch.Tensor]:
    x0, y0, x1, y1 = module.draw(x).unbind(1)
    return {"w": x1 - x0, "h": y1 - y0, "cx": (x0 + x1) / 2, "cy": (y0 + y1) / 2}


def kornia_boxes(module: K.RandomResizedCrop, x: torch.Tensor) -> dict[str, torch.Tensor]:
    src = module.forward_parameters(x.shape)["src"]  # (B, 4, 2) corners, inclusive pixel coordinates
    x0, y0, x1, y1 = src[:, 0, 0], src[:, 0, 1], src[:, 2, 0] + 1, src[:, 2, 1] + 1
    return {"w": x1 - x0, "h": y1 - y0, "cx": (x0 + x1) / 2, "cy": (y0 + y1) / 2}


def crop_stats(boxes: dict[str, torch.Tensor], side: int = 32) -> dict[str, torch.Tensor]:
    return {
        "area": boxes["w"] * boxes["h"] / side**2,
        "log_ratio": torch.log(boxes["w"] / boxes["h"]),
        "cx": boxes["cx"],
        "cy": boxes["cy"],
    }


@pytest.mark.parametrize("scale", [(0.08, 1.0), (0.2, 1.0)])
def test_crop_boxes_same_distribution(scale):
    torch.manual_seed(0)
    x = images()
    (kornia_crop, kornia_flip) = A.crop(32, scale=scale, backend="kornia")
    fast = crop_stats(fast_boxes(A.crop(32, scale=scale)[0], x))
    kornia = crop_stats(kornia_boxes(kornia_crop, x))
    for name in fast:
        assert ks(fast[name], kornia[name]) < KS_TOL, name
    wrong = crop_stats(fast_boxes(A.RandomResizedCrop(32, scale=(0.3, 1.0)), x))
    assert ks(wrong["area"], kornia["area"]) > KS_TOL


def test_flip_rate_same():
    torch.manual_seed(1)
    x = images()
    fast = A.crop(32)[1].draw(x).float().mean()
    kornia = A.crop(32, backend="kornia")[1].forward_parameters(x.shape)["batch_prob"].float().mean()
    assert abs(fast - kornia) < RATE_TOL and abs(kornia - 0.5) < RATE_TOL
    assert abs(A.RandomHorizontalFlip(p=0.4).draw(x).float().mean() - kornia) > RATE_TOL


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_color_jitter_factors_same_distribution(strength):
    torch.manual_seed(2)
    x = images()
    fast = A.jitter(strength)[0].draw(x)
    params = A.jitter(strength, backend="kornia")[0].forward_parameters(x.shape)
    applied = params["batch_prob"] > 0.5
    assert abs(fast.apply.float().mean() - applied.float().mean()) < RATE_TOL
    pairs = {
        "brightness": (fast.brightness, params["brightness_factor"]),
        "contrast": (fast.contrast, params["contrast_factor"]),
        "saturation": (fast.saturation, params["saturation_factor"]),
        "hue": (fast.hue, params["hue_factor"]),
    }
    for name, (ours, theirs) in pairs.items():
        assert ks(ours[fast.apply], theirs[applied]) < KS_TOL, name
    wrong = A.jitter(strength * 1.25)[0].draw(x)
    assert ks(wrong.brightness[wrong.apply], params["brightness_factor"][applied]) > KS_TOL
    assert abs(A.jitter(strength, p=0.7)[0].draw(x).apply.float().mean() - applied.float().mean()) > RATE_TOL


def test_one_channel_jitter_drops_saturation_and_hue_in_kornia():
    module = A.jitter(1.0, channels=1, backend="kornia")[0]
    params = module.forward_parameters(torch.Size((64, 1, 8, 8)))
    assert torch.all(params["saturation_factor"] == 1) and torch.all(params["hue_factor"] == 0)
    out = module(torch.rand(64, 1, 8, 8))  # kornia refuses 1 channel when saturation or hue is non-zero
    assert out.shape == (64, 1, 8, 8)


def test_grayscale_rate_same():
    torch.manual_seed(3)
    x = images()
    fast = A.color()[1].draw(x).float().mean()
    kornia = A.color(backend="kornia")[1].forward_parameters(x.shape)["batch_prob"].float().mean()
    assert abs(fast - kornia) < RATE_TOL and abs(kornia - 0.2) < RATE_TOL
    assert abs(A.RandomGrayscale(p=0.3).draw(x).float().mean() - kornia) > RATE_TOL


def test_blur_sigma_and_rate_same():
    torch.manual_seed(4)
    x = images(size=96)
    fast_module, kornia_module = A.blur(96, p=0.5)[0], A.blur(96, p=0.5, backend="kornia")[0]
    assert kornia_module.flags["kernel_size"] == fast_module.kernel_size == 9
    sigma = fast_module.draw(x)
    params = kornia_module.forward_parameters(x.shape)
    applied = params["batch_prob"] > 0.5
    assert abs((sigma > 0).float().mean() - applied.float().mean()) < RATE_TOL
    assert ks(sigma[sigma > 0], params["sigma"][applied]) < KS_TOL
    wrong = A.RandomGaussianBlur(9, sigma=(0.1, 1.5), p=0.5).draw(x)
    assert ks(wrong[wrong > 0], params["sigma"][applied]) > KS_TOL


def test_rotation_turns_fast_uniform_kornia_one_two_one():
    """The documented difference: kornia rounds a continuous `times`, so 180 degrees comes twice as often."""
    torch.manual_seed(5)
    x = images(size=8)
    fast = A.rotate()[0].draw(x)
    kornia = A.rotate(backend="kornia")[0].forward_parameters(x.shape)["times"].round()
    for turns, fast_share, kornia_share in ((1, 1 / 3, 0.25), (2, 1 / 3, 0.5), (3, 1 / 3, 0.25)):
        assert abs((fast == turns).float().mean() - fast_share) < RATE_TOL
        assert abs((kornia == turns).float().mean() - kornia_share) < RATE_TOL


PRESETS = {
    "simclr_fashion_mnist": (lambda b: A.simclr_fashion_mnist(blur_p=0.5, backend=b), 1, 28),
    "simclr_cifar": (lambda b: A.simclr_cifar(backend=b), 3, 32),
    "simclr_imagenet": (lambda b: A.simclr_imagenet(48, backend=b), 3, 56),
    "crop_only": (lambda b: A.crop_only(24, backend=b), 3, 32),
    "color_only": (lambda b: A.color_only(24, backend=b), 3, 32),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_kornia_preset_uses_kornia_modules_and_keeps_the_contract(name):
    build, channels, size = PRESETS[name]
    pipeline = build("kornia")
    random_modules = [m for m in pipeline.transforms if not isinstance(m, A.Sobel)]
    assert random_modules and all(type(m).__module__.startswith("kornia.") for m in random_modules)
    torch.manual_seed(6)
    image = torch.randint(0, 256, (1, channels, size, size), dtype=torch.uint8)
    batch = image.expand(16, -1, -1, -1).contiguous()  # one image 16 times: differences are per-image draws
    x = batch.float() / 255
    for module in pipeline.transforms:
        x = module(x)
    assert x.dtype == torch.float32 and x.min() >= -1e-5 and x.max() <= 1 + 1e-5  # float rounding in the warps
    assert len({tuple(row) for row in x.flatten(1).round(decimals=5).tolist()}) > 8
    views = A.MultiView(pipeline)(batch)
    out = build("fast").transforms[0](batch.float()).shape[-1]
    assert [v.shape for v in views] == [torch.Size((16, channels, out, out))] * 2
    assert not torch.allclose(views[0], views[1])


@pytest.mark.parametrize("block", ["crop", "color", "cutout", "sobel", "grayscale", "noise", "blur", "rotate"])
def test_every_block_builds_on_both_backends(block):
    build = {"crop": lambda b: A.crop(16, backend=b), "blur": lambda b: A.blur(16, backend=b)}.get(
        block, lambda b: getattr(A, block)(backend=b)
    )
    x = torch.rand(6, 3, 16, 16)
    for backend in ("fast", "kornia"):
        out = A.compose([build(backend)], [0.5] * 3, [0.5] * 3)(x)
        assert out.shape == (6, 3, 16, 16) and torch.isfinite(out).all()


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="fast, kornia"):
        A.simclr_cifar(backend="torchvision")
