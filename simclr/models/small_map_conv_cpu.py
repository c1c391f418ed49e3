"""CPU workaround, opt-in: convolutions on tiny feature maps computed as one dense matrix product.

Why our own code here: on small images the last ResNet stages run on 2x2 and 1x1 maps (Fashion-MNIST's
28 px become 1 px in layer4 behind the ImageNet stem). oneDNN, torch's CPU convolution, is slow on those
shapes in the backward pass, many times slower than the dense product the convolution amounts to
(`benchmarks/small_map_conv.py` measures it; figures in docs/speed.md). On such a map a convolution is a small linear map from the (H*W*C_in) input values to the
(H_o*W_o*C_out) outputs, so we build that matrix from the kernel (taps that only see padding are zero)
and use one GEMM, whose gradient is the exact gradient of the same function (`KernelAsDense` gives the
weight its gradient in the weight's own memory layout). Larger maps, other devices (cuDNN is fine) and
grouped/dilated convolutions keep `F.conv2d`.

Off by default (`ResNetEncoder(small_map_gemm=False)`); configs/trainer/cpu_demo.yaml turns it on, and
`simclr export` turns it off again (`use_plain_convs`) before tracing. It can
go once PyTorch's CPU convolution backward is fast on <=2x2 maps: rerun the benchmark to check.
"""

import functools

import torch
from torch import Tensor, nn


@functools.lru_cache(maxsize=128)
def used_taps(
    height: int, width: int, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """The kernel taps that link some output pixel to some input pixel, and where each one acts.

    Built in plain Python from the shapes (a few pixels, cached), so a training step reads nothing back
    from a tensor and `torch.compile` sees constants.

    Returns:
        used (n_used,) long: tap numbers `ky * kw + kx`, ascending; placement (n_used, H_o*W_o*H*W)
        float32: 1 where that tap links output pixel o to input pixel i (column o * H*W + i), else 0.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    links = []  # (tap, column)
    for oy in range(out_h):
        for ox in range(out_w):
            for iy in range(height):
                for ix in range(width):
                    ky, kx = iy - (oy * sh - ph), ix - (ox * sw - pw)
                    if 0 <= ky < kh and 0 <= kx < kw:
                        links.append((ky * kw + kx, ((oy * out_w + ox) * height + iy) * width + ix))
    used = sorted({tap for tap, _ in links})
    row = {tap: j for j, tap in enumerate(used)}
    placement = [[0.0] * (out_h * out_w * height * width) for _ in used]
    for tap, column in links:
        placement[row[tap]][column] = 1.0
    with torch.inference_mode(False):  # cached and later saved for backward: never an inference tensor
        return torch.tensor(used, dtype=torch.long), torch.tensor(placement, dtype=torch.float32)


class KernelAsDense(torch.autograd.Function):
    """weight (C_out, C_in, kh, kw) -> the convolution's dense matrix (H_o*W_o*C_out, H*W*C_in), rows
    (output pixel, C_out), columns (input pixel, C_in).

    Only the taps that see an input pixel (a 3x3 kernel on a 1x1 map uses its centre alone) are placed, by
    a 0/1 matrix product: its backward is a GEMM too, where indexing would scatter-add (slow on CPU).

    Its own backward so that the weight's gradient has the weight's own strides (channels_last under
    `channels_last: true`). Autograd through the flatten/reshape would return a contiguous gradient: on a
    3x3 kernel AccumulateGrad then copies it into the parameter's layout every step, and on a 1x1 kernel it
    keeps it, whose strides on the size-1 dimensions differ from the parameter's, so DDP warns "Grad strides
    do not match bucket view strides" and copies it into its bucket the slow way.
    """

    @staticmethod
    def forward(ctx, weight: Tensor, used: Tensor, placement: Tensor, out_pixels: int, in_pixels: int) -> Tensor:
        """used (n_used,) long and placement (n_used, out_pixels*in_pixels) from `used_taps`."""
        c_out, c_in, kh, kw = weight.shape
        taps = weight.flatten(2)  # (C_out, C_in, kh*kw)
        if len(used) < kh * kw:
            taps = taps.index_select(2, used)  # (C_out, C_in, n_used)
        dense = (taps.reshape(c_out * c_in, len(used)) @ placement).view(c_out, c_in, out_pixels, in_pixels)
        ctx.save_for_backward(used, placement)
        ctx.pixels = out_pixels, in_pixels
        ctx.weight_layout = weight.shape, weight.stride(), weight.dtype
        return dense.permute(2, 0, 3, 1).reshape(out_pixels * c_out, in_pixels * c_in)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, None, None, None, None]:
        """grad (H_o*W_o*C_out, H*W*C_in) -> the weight's gradient, in the weight's strides."""
        used, placement = ctx.saved_tensors
        out_pixels, in_pixels = ctx.pixels
        shape, strides, dtype = ctx.weight_layout
        c_out, c_in, kh, kw = shape
        pairs = grad.reshape(out_pixels, c_out, in_pixels, c_in).permute(0, 2, 1, 3)  # (H_o*W_o, H*W, C_out, C_in)
        # in grad's dtype: bf16 under CPU autocast, whose forward product ran in bf16 too
        per_tap = placement.to(grad.dtype) @ pairs.reshape(out_pixels * in_pixels, c_out * c_in)  # (n_used, C_out*C_in)
        per_tap = per_tap.to(dtype).view(len(used), c_out, c_in)
        if len(used) == kh * kw:
            full = per_tap.view(kh, kw, c_out, c_in).permute(2, 3, 0, 1)  # (C_out, C_in, kh, kw)
            if all(a == b for a, b, n in zip(full.stride(), strides, shape) if n > 1):
                return full.as_strided(shape, strides), None, None, None, None  # 1x1 kernels: no copy needed
            grad_weight = torch.empty_strided(shape, strides, dtype=dtype, device=grad.device).copy_(full)
        else:
            grad_weight = torch.empty_strided(shape, strides, dtype=dtype, device=grad.device).zero_()
            grad_weight.permute(2, 3, 0, 1)[used // kw, used % kw] = per_tap  # the taps that see some pixel
        return grad_weight, None, None, None, None


def conv2d_as_matmul(
    images: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, int], padding: tuple[int, int]
) -> Tensor:
    """`F.conv2d(images, weight, bias, stride, padding)` (groups 1, dilation 1) as one dense GEMM.

    Cost grows with (H*W)^2, so use it for maps of a few pixels only.

    Args:
        images: (B, C_in, H, W).
        weight: (C_out, C_in, kh, kw).
        bias: (C_out,) or None.

    Returns:
        (B, C_out, H_o, W_o) in channels_last memory layout.
    """
    batch, c_in, height, width = images.shape
    c_out, _, kh, kw = weight.shape
    out_h, out_w = (height + 2 * padding[0] - kh) // stride[0] + 1, (width + 2 * padding[1] - kw) // stride[1] + 1
    out_pixels = out_h * out_w
    used, placement = used_taps(height, width, (kh, kw), tuple(stride), tuple(padding))
    used = used.to(images.device)
    placement = placement.to(device=images.device, dtype=weight.dtype)  # (n_used, H_o*W_o*H*W)
    dense = KernelAsDense.apply(weight, used, placement, out_pixels, height * width)  # rows (pixel, C_out)
    flat = images.permute(0, 2, 3, 1).reshape(batch, height * width * c_in)  # (B, H*W*C_in), pixel-major
    out = flat @ dense.t()  # (B, H_o*W_o*C_out)
    if bias is not None:
        out = out + bias.repeat(out_pixels)
    return out.view(batch, out_h, out_w, c_out).permute(0, 3, 1, 2)


class SmallMapConv2d(nn.Conv2d):
    """nn.Conv2d that runs `conv2d_as_matmul` on CPU inputs of at most `max_pixels` pixels per map.

    Same parameters and state_dict as nn.Conv2d; the result equals `F.conv2d` up to float rounding.
    """

    max_pixels: int = 4  # 2x2 maps; the GEMM grows with (H*W)^2, so beyond that oneDNN is faster again

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C_in, H, W) -> (B, C_out, H_o, W_o)."""
        small = images.shape[-2] * images.shape[-1] <= self.max_pixels
        if (
            small
            and images.device.type == "cpu"
            and self.groups == 1
            and self.dilation == (1, 1)
            and self.padding_mode == "zeros"
            and isinstance(self.padding, tuple)
        ):
            return conv2d_as_matmul(images, self.weight, self.bias, self.stride, self.padding)
        return super().forward(images)


def use_small_map_convs(module: nn.Module) -> nn.Module:
    """Turn every plain nn.Conv2d inside `module` into a SmallMapConv2d, in place (parameters, state_dict
    keys and initialisation unchanged). Returns `module`."""
    for sub in module.modules():
        if type(sub) is nn.Conv2d:
            sub.__class__ = SmallMapConv2d  # a subclass adding no state: re-typing keeps the parameters
    return module


def use_plain_convs(module: nn.Module) -> nn.Module:
    """Undo `use_small_map_convs`: every SmallMapConv2d inside `module` becomes a plain nn.Conv2d again, in
    place (same parameters). For export: TorchScript and ONNX trace `F.conv2d`, whose graph takes any image
    size, where the GEMM path is tied to the traced size. Returns `module`."""
    for sub in module.modules():
        if type(sub) is SmallMapConv2d:
            sub.__class__ = nn.Conv2d
    return module
