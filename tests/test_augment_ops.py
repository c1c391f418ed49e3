"""Tests for augmentations/ops.py: batched ops against per-image references (torchvision, kornia)."""

import math

import kornia
import pytest
import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF

from augmentations import ops

TV_JITTER = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]


def _jitter_params(batch: int, device, with_hue: bool = True):
    brightness, contrast, saturation = (0.2 + 1.6 * torch.rand(batch, device=device) for _ in range(3))
    hue = (torch.rand(batch, device=device) - 0.5) * (1.0 if with_hue else 0.0)
    order = torch.argsort(torch.rand(batch, 4, device=device), dim=1)
    return brightness, contrast, saturation, hue, order


def _jitter_loop(images, brightness, contrast, saturation, hue, order, ops_used=(0, 1, 2, 3)):
    """Slow reference: one image at a time, torchvision functional ops in that image's order."""
    factors = torch.stack([brightness, contrast, saturation, hue], dim=1)
    out = []
    for b in range(images.shape[0]):
        x = images[b]
        for op in order[b].tolist():
            if op in ops_used:
                x = TV_JITTER[op](x, factors[b, op].item())
        out.append(x)
    return torch.stack(out)


def test_sample_crop_boxes_inside_and_in_range(device):
    torch.manual_seed(0)
    height, width = 200, 240
    boxes = ops.sample_crop_boxes(4000, height, width, device=device).cpu()
    assert boxes.shape == (4000, 4) and boxes.dtype == torch.float32
    x0, y0, x1, y1 = boxes.unbind(1)
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= width).all() and (y1 <= height).all()
    assert (x1 > x0).all() and (y1 > y0).all()
    assert torch.equal(boxes, boxes.round())  # whole pixels, like torchvision
    w, h = x1 - x0, y1 - y0
    area = w * h / (height * width)
    tol = 0.03  # side lengths are rounded to whole pixels, as in torchvision
    assert area.min() >= 0.08 * (1 - tol) and area.max() <= 1.0
    assert (w / h).min() >= 0.75 * (1 - tol) and (w / h).max() <= 4 / 3 * (1 + tol)
    assert len(set(map(tuple, boxes.tolist()))) > 3900  # every image draws its own box
    assert x0.float().std() > 10 and y0.float().std() > 10  # positions spread over the image


@pytest.mark.parametrize("height,width", [(10, 40), (40, 10), (30, 32)])
def test_sample_crop_boxes_fallback_matches_torchvision(device, height, width):
    # scale > 1 never fits, so every image falls back to torchvision's centre crop.
    boxes = ops.sample_crop_boxes(5, height, width, scale=(2.0, 3.0), device=device).cpu()
    i, j, h, w = T.RandomResizedCrop.get_params(torch.zeros(1, height, width), (2.0, 3.0), (3 / 4, 4 / 3))
    expected = torch.tensor([[j, i, j + w, i + h]], dtype=torch.float32).expand(5, 4)
    assert torch.equal(boxes, expected)


def test_sample_crop_boxes_mixed_batch_takes_first_fit_or_fallback(device):
    torch.manual_seed(1)
    # Tall ratios on a wide image: some images fit a candidate, others fall back.
    boxes = ops.sample_crop_boxes(500, 20, 20, scale=(0.9, 1.2), ratio=(0.5, 2.0), device=device).cpu()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (w <= 20).all() and (h <= 20).all() and (boxes[:, :2] >= 0).all()
    assert ((w * h / 400) >= 0.8).all()


def test_resized_crop_full_box_is_identity(device):
    images = torch.rand(4, 3, 17, 23, device=device)
    boxes = torch.tensor([[0.0, 0.0, 23.0, 17.0]], device=device).expand(4, 4)
    out = ops.resized_crop(images, boxes, (17, 23))
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [(24, 20), (8, 10)])  # upsampling and downsampling
def test_resized_crop_matches_torchvision(device, size):
    torch.manual_seed(0)
    images = torch.rand(3, 3, 32, 32, device=device)
    crops = [(5, 3, 13, 17), (0, 0, 32, 20), (10, 12, 22, 9)]  # (top, left, height, width)
    boxes = torch.tensor([[left, top, left + w, top + h] for top, left, h, w in crops], device=device)
    out = ops.resized_crop(images, boxes.float(), size)
    assert out.shape == (3, 3, *size)
    for b, (top, left, h, w) in enumerate(crops):
        ref = TF.resized_crop(images[b], top, left, h, w, list(size), antialias=False)
        assert (out[b] - ref).abs().mean() < 0.02


def test_color_jitter_matches_per_image_torchvision_loop(device):
    torch.manual_seed(0)
    images = torch.rand(16, 3, 12, 12, device=device)
    params = _jitter_params(16, device, with_hue=False)
    order = params[-1]
    assert len({tuple(o) for o in order.tolist()}) > 1  # the order really varies within the batch
    out = ops.color_jitter(images, *params)
    torch.testing.assert_close(out, _jitter_loop(images, *params, ops_used=(0, 1, 2)), atol=1e-3, rtol=0)


def test_color_jitter_with_hue_matches_per_image_torchvision_loop(device):
    torch.manual_seed(1)
    images = torch.rand(16, 3, 12, 12, device=device)
    params = _jitter_params(16, device, with_hue=True)
    out = ops.color_jitter(images, *params)
    assert (out - _jitter_loop(images, *params)).abs().max() < 2e-2
    assert out.min() >= 0 and out.max() <= 1


def test_color_jitter_identity_factors(device):
    images = torch.rand(6, 3, 8, 8, device=device)
    ones, zeros = torch.ones(6, device=device), torch.zeros(6, device=device)
    order = torch.argsort(torch.rand(6, 4, device=device), dim=1)
    torch.testing.assert_close(ops.color_jitter(images, ones, ones, ones, zeros, order), images, atol=1e-5, rtol=0)


def test_color_jitter_single_channel_ignores_saturation_and_hue(device):
    torch.manual_seed(2)
    images = torch.rand(8, 1, 10, 10, device=device)
    params = _jitter_params(8, device)
    out = ops.color_jitter(images, *params)
    assert out.shape == images.shape
    torch.testing.assert_close(out, _jitter_loop(images, *params, ops_used=(0, 1)), atol=1e-3, rtol=0)


def test_grayscale_only_selected_images(device):
    images = torch.rand(4, 3, 8, 8, device=device)
    apply = torch.tensor([True, False, True, False], device=device)
    out = ops.grayscale(images, apply)
    ref = TF.rgb_to_grayscale(images, num_output_channels=3)
    torch.testing.assert_close(out[apply.cpu()], ref[apply.cpu()], atol=1e-3, rtol=0)
    assert torch.equal(out[~apply.cpu()], images[~apply.cpu()])
    single = torch.rand(4, 1, 8, 8, device=device)
    assert torch.equal(ops.grayscale(single, apply), single)


def test_gaussian_blur_sigma_zero_is_identity(device):
    images = torch.rand(3, 3, 16, 16, device=device)
    assert torch.equal(ops.gaussian_blur(images, torch.zeros(3, device=device), 5), images)


def test_gaussian_blur_per_image_sigma_matches_kornia(device):
    torch.manual_seed(0)
    images = torch.rand(4, 3, 20, 18, device=device)
    sigma = torch.tensor([0.0, 0.5, 1.0, 2.0], device=device)
    out = ops.gaussian_blur(images, sigma, 7)
    torch.testing.assert_close(out[0], images[0], atol=0, rtol=0)
    for b in range(1, 4):
        s = sigma[b].item()
        ref = kornia.filters.gaussian_blur2d(images[b : b + 1], (7, 7), (s, s), border_type="reflect")
        torch.testing.assert_close(out[b : b + 1], ref, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="odd"):
        ops.gaussian_blur(images, sigma, 4)


def test_solarize_only_selected_images(device):
    images = torch.rand(4, 3, 8, 8, device=device)
    apply = torch.tensor([True, False, False, True], device=device)
    out = ops.solarize(images, apply, threshold=0.5)
    ref = TF.solarize(images, threshold=0.5)
    assert torch.equal(out[apply.cpu()], ref[apply.cpu()])
    assert torch.equal(out[~apply.cpu()], images[~apply.cpu()])


def test_rot90_per_image(device):
    images = torch.rand(4, 2, 6, 6, device=device)
    k = torch.tensor([0, 1, 2, 3], device=device)
    out = ops.rot90(images, k)
    for b in range(4):
        assert torch.equal(out[b], torch.rot90(images[b], b, dims=(-2, -1)))
    with pytest.raises(ValueError, match="square"):
        ops.rot90(torch.rand(1, 1, 4, 5, device=device), k[:1])


def test_sobel_magnitude_range_and_flat_image(device):
    images = torch.rand(3, 3, 16, 16, device=device)
    out = ops.sobel_magnitude(images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out[:, 0], out[:, 2])  # replicated grayscale edges
    step = torch.zeros(1, 1, 8, 8, device=device)
    step[..., 4:] = 1.0
    assert math.isclose(ops.sobel_magnitude(step).max().item(), 0.5 / ops.SOBEL_MAX, abs_tol=1e-3)
    corner = torch.zeros(1, 1, 8, 8, device=device)
    corner[..., 4:, :] = 1.0
    corner[..., 3, 4:] = 1.0  # the 3x3 patch [[0, 0, 0], [0, 0, 1], [1, 1, 1]] has the largest magnitude
    assert math.isclose(ops.sobel_magnitude(corner).max().item(), 1.0, abs_tol=1e-3)
    assert ops.sobel_magnitude(torch.full((1, 3, 8, 8), 0.3, device=device)).max() < 1e-2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="sync checks need CUDA")
def test_ops_do_not_synchronise_on_cuda():
    images = torch.rand(8, 3, 16, 16, device="cuda")
    params = _jitter_params(8, "cuda")
    apply = torch.rand(8, device="cuda") < 0.5
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        boxes = ops.sample_crop_boxes(8, 16, 16, device="cuda")
        ops.resized_crop(images, boxes, (8, 8))
        ops.color_jitter(images, *params)
        ops.grayscale(images, apply)
        ops.gaussian_blur(images, torch.rand(8, device="cuda"), 5)
        ops.solarize(images, apply)
        ops.rot90(images, torch.randint(0, 4, (8,), device="cuda"))
    finally:
        torch.cuda.set_sync_debug_mode("default")
