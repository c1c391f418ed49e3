"""Our fast batched ops against torchvision's per-image functional ops (the reference semantics)."""

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from augmentations import ops

TV_JITTER = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]


def _sequential_jitter(images, factors, order):
    """Reference: one image at a time, torchvision's four ops in that image's own order."""
    out = []
    for b in range(images.shape[0]):
        x = images[b]
        for op in order[b].tolist():
            x = TV_JITTER[op](x, factors[b, op].item())
        out.append(x)
    return torch.stack(out)


def test_hue_shift_matches_torchvision_per_image(device):
    torch.manual_seed(0)
    images = torch.rand(7, 3, 9, 11, device=device)
    images[0] = 0.4  # gray: no chroma, unchanged by any shift
    images[1, 1] = images[1, 0]  # red == green ties for the max in many pixels
    images[2, :, :3] = torch.tensor([1.0, 0.0, 0.0], device=device)[:, None, None]  # saturated primaries
    shift = torch.tensor([0.3, -0.5, 0.5, 0.0, 0.1, -0.27, 0.49], device=device)
    out = ops.hue_shift(images, shift)
    for b in range(7):
        ref = TF.adjust_hue(images[b], shift[b].item())
        torch.testing.assert_close(out[b], ref, atol=2e-6, rtol=0)


@pytest.mark.parametrize("channels", [1, 3])
def test_color_jitter_matches_sequential_reference_with_per_image_order(device, channels):
    torch.manual_seed(3)
    batch = 48  # every one of the 24 orders is likely to appear
    images = torch.rand(batch, channels, 10, 10, device=device)
    factors = torch.stack(
        [0.2 + 1.6 * torch.rand(batch, device=device) for _ in range(3)] + [torch.rand(batch, device=device) - 0.5], 1
    )
    factors[::7] = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device)  # images the jitter did not select
    order = torch.argsort(torch.rand(batch, 4, device=device), dim=1)
    assert len({tuple(o) for o in order.tolist()}) >= 12
    out = ops.color_jitter(images, *factors.unbind(1), order)
    # 5e-4: torchvision's luma weights are (0.2989, 0.587, 0.114), ours ITU-R 601's (0.299, ...)
    torch.testing.assert_close(out, _sequential_jitter(images, factors, order), atol=5e-4, rtol=0)
    assert torch.equal(out[::7], images[::7])  # identity factors give the input exactly


def test_gaussian_blur_matches_torchvision_on_selected_and_is_identity_elsewhere(device):
    torch.manual_seed(0)
    images = torch.rand(6, 3, 24, 20, device=device)
    sigma = torch.tensor([0.0, 0.3, 0.0, 1.1, 2.0, 0.0], device=device)  # 0 = not selected by p
    out = ops.gaussian_blur(images, sigma, 9)
    for b in range(6):
        if sigma[b] == 0:
            assert torch.equal(out[b], images[b])
        else:
            ref = TF.gaussian_blur(images[b], [9, 9], [sigma[b].item()] * 2)
            torch.testing.assert_close(out[b], ref, atol=1e-5, rtol=0)


def test_resized_crop_interior_pixels_match_torchvision_exactly(device):
    # Away from the crop's border both sample the same bilinear positions; at the border torchvision
    # clamps to the crop, one grid_sample reads the neighbouring pixel outside it (closer to the scene).
    torch.manual_seed(0)
    images = torch.rand(3, 3, 40, 40, device=device)
    crops = [(5, 3, 20, 20), (0, 0, 40, 40), (10, 12, 10, 10)]  # (top, left, height, width)
    boxes = torch.tensor([[left, top, left + w, top + h] for top, left, h, w in crops], device=device).float()
    out = ops.resized_crop(images, boxes, (30, 30))
    for b, (top, left, h, w) in enumerate(crops):
        ref = TF.resized_crop(images[b], top, left, h, w, [30, 30], antialias=False)
        edge = 2 if (h, w) != (40, 40) else 0  # the whole image: no outside pixels, equal everywhere
        inner = (slice(None), slice(edge, 30 - edge), slice(edge, 30 - edge))
        torch.testing.assert_close(out[b][inner], ref[inner], atol=1e-5, rtol=0)


def test_hflip_only_selected_images(device):
    images = torch.rand(4, 3, 5, 6, device=device)
    apply = torch.tensor([True, False, False, True], device=device)
    out = ops.hflip(images, apply)
    for b in range(4):
        assert torch.equal(out[b], TF.horizontal_flip(images[b]) if apply[b] else images[b])
