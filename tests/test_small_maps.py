"""Small-map convolutions as one GEMM: same values and gradients as F.conv2d, same parameters."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simclr.models.encoder import ResNetEncoder
from simclr.models.small_map_conv_cpu import SmallMapConv2d, conv2d_as_matmul, use_small_map_convs, used_taps


def test_a_3x3_kernel_on_a_1x1_map_uses_the_centre_tap_only():
    used, placement = used_taps(1, 1, (3, 3), (1, 1), (1, 1))
    assert used.tolist() == [4] and placement.tolist() == [[1.0]]


def test_used_taps_on_a_2x2_map_keep_the_taps_that_see_it():
    used, placement = used_taps(2, 2, (3, 3), (2, 2), (1, 1))  # one output pixel centred on input (0, 0)
    assert used.tolist() == [4, 5, 7, 8] and torch.equal(placement, torch.eye(4))  # tap j sees input pixel j
    used, placement = used_taps(3, 3, (1, 1), (1, 1), (0, 0))  # 1x1 kernel: each output sees its own pixel
    assert used.tolist() == [0] and torch.equal(placement.view(9, 9), torch.eye(9))


def test_used_taps_link_each_output_input_pair_by_at_most_one_tap():
    used, placement = used_taps(2, 2, (3, 3), (1, 1), (1, 1))
    assert used.tolist() == list(range(9)) and placement.shape == (9, 16)
    assert placement.sum(0).tolist() == [1.0] * 16  # on a 2x2 map with padding 1 every pair is linked
    assert placement[4, 0] == 1 and placement[8, 3] == 1  # output (0, 0): input (0, 0) by the centre, (1, 1) by (2, 2)


@pytest.mark.parametrize(
    "shape, c_out, kernel, stride, padding, bias",
    [
        ((5, 8, 1, 1), 6, 3, 1, 1, False),
        ((5, 8, 2, 2), 6, 3, 1, 1, True),
        ((5, 8, 2, 2), 6, 3, 2, 1, False),
        ((5, 8, 2, 2), 6, 1, 2, 0, False),  # a ResNet downsample shortcut
        ((5, 3, 3, 2), 4, 3, 1, 1, True),  # non-square
        ((5, 3, 4, 4), 4, 2, 2, 0, True),
    ],
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_conv2d_as_matmul_matches_conv2d_values_and_gradients(
    shape, c_out, kernel, stride, padding, bias, channels_last
):
    torch.manual_seed(0)
    images = torch.randn(*shape, dtype=torch.float64)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(c_out, shape[1], kernel, kernel, dtype=torch.float64)
    b = torch.randn(c_out, dtype=torch.float64) if bias else None
    leaves = [t.requires_grad_() for t in (images, weight, b) if t is not None]
    expected = F.conv2d(images, weight, b, stride, padding)
    got = conv2d_as_matmul(images, weight, b, (stride, stride), (padding, padding))
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected)
    upstream = torch.randn_like(expected)
    torch.testing.assert_close(
        torch.autograd.grad(got, leaves, upstream), torch.autograd.grad(expected, leaves, upstream)
    )


def test_small_map_conv_uses_the_gemm_only_on_small_cpu_maps(monkeypatch):
    conv = use_small_map_convs(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)))[0]
    assert type(conv) is SmallMapConv2d
    calls = []
    monkeypatch.setattr(
        "simclr.models.small_map_conv_cpu.conv2d_as_matmul", lambda *a: calls.append(a[0].shape) or F.conv2d(*a)
    )
    conv(torch.randn(2, 4, 2, 2))
    conv(torch.randn(2, 4, 3, 3))
    assert calls == [torch.Size([2, 4, 2, 2])]


def test_encoder_with_small_map_gemm_has_the_same_parameters_outputs_and_gradients():
    torch.manual_seed(0)
    fast = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1, small_map_gemm=True)
    plain = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1, small_map_gemm=False)
    assert fast.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(fast.state_dict())
    assert any(type(m) is SmallMapConv2d for m in fast.modules())
    assert not any(type(m) is SmallMapConv2d for m in plain.modules())
    images = torch.randn(6, 1, 28, 28)  # layer3 on 2x2 maps, layer4 on 1x1
    h_fast, h_plain = fast(images), plain(images)
    torch.testing.assert_close(h_fast, h_plain, rtol=1e-4, atol=1e-5)
    h_fast.square().sum().backward()
    h_plain.square().sum().backward()
    for (name, p_fast), p_plain in zip(fast.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p_fast.grad, p_plain.grad, rtol=1e-3, atol=1e-4, msg=name)
    assert fast.fresh_copy()._init_kwargs["small_map_gemm"] is True


def test_a_first_call_under_inference_mode_does_not_break_later_training():
    used_taps.cache_clear()
    conv = use_small_map_convs(nn.Sequential(nn.Conv2d(3, 5, 3, padding=1)))
    with torch.inference_mode():
        conv(torch.randn(2, 3, 2, 2))  # e.g. a probe or validation pass caches the index first
    conv(torch.randn(2, 3, 2, 2)).sum().backward()
    assert conv[0].weight.grad is not None
