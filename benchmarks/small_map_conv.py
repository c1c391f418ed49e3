"""Convolutions on tiny maps: torch's kernel (oneDNN on the CPU) vs one dense GEMM (simclr.models.small_map_conv_cpu).

Two tables: (1) one convolution's forward and backward time for the layer3/layer4 shapes of a ResNet on
28 px images; (2) a whole training step (encoder + projection head + NT-Xent + AdamW, channels_last) of
the Fashion-MNIST demo encoder with `small_map_gemm` off and on, timed in turns window by window.

    python benchmarks/small_map_conv.py --device cpu                          # docs/speed.md figures
    python benchmarks/small_map_conv.py --device cpu --batch 8 --width 8 --repeats 2 --warmup 1   # CI
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from common import add_timing_arguments, median, pick_device, print_table, time_windows, write_json

from simclr.losses.nt_xent import NTXentLoss
from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead
from simclr.models.small_map_conv_cpu import conv2d_as_matmul


def conv_shapes(width: int) -> list[tuple[str, int, int, int, int]]:
    """(name, C_in, C_out, map side, stride) of the small-map 3x3 convolutions of a [1, 1, 1, 1] ResNet."""
    return [
        ("layer3.conv2 (2x2)", 4 * width, 4 * width, 2, 1),
        ("layer4.conv1 (2x2 -> 1x1)", 4 * width, 8 * width, 2, 2),
        ("layer4.conv2 (1x1)", 8 * width, 8 * width, 1, 1),
    ]


def time_conv(fn, batch: int, c_in: int, c_out: int, side: int, stride: int, device, args) -> tuple[float, float]:
    """Median seconds of (forward, backward) of `fn(x, weight, stride)` on channels_last inputs."""
    x = (
        torch.randn(batch, c_in, side, side, device=device)
        .contiguous(memory_format=torch.channels_last)
        .requires_grad_()
    )
    weight = (
        torch.randn(c_out, c_in, 3, 3, device=device).contiguous(memory_format=torch.channels_last).requires_grad_()
    )
    out = fn(x, weight, stride)
    grad = torch.randn_like(out)
    forward = time_windows(lambda: fn(x, weight, stride), device, args.iters, args.repeats, args.warmup)

    def forward_backward():
        fn(x, weight, stride).backward(grad)

    both = time_windows(forward_backward, device, args.iters, args.repeats, args.warmup)
    return median(forward), max(0.0, median(both) - median(forward))


def step_fn(width: int, small_map_gemm: bool, batch: int, device):
    """One training step of ResNet-10 (1 channel, 28 px, channels_last) + head + NT-Xent + AdamW."""
    torch.manual_seed(0)
    encoder = ResNetEncoder(layers=[1, 1, 1, 1], width=width, in_channels=1, small_map_gemm=small_map_gemm)
    head = ProjectionHead(encoder.feature_dim, 512, 128, 2)
    model = torch.nn.Sequential(encoder, head).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = NTXentLoss(0.2)
    views = torch.randn(2 * batch, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)

    def step():
        z = model(views)
        optimizer.zero_grad(set_to_none=True)
        loss(*z.chunk(2)).backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="pairs per step (2 x batch images)")
    parser.add_argument("--width", type=int, default=32, help="ResNet width (the demo: 32)")
    add_timing_arguments(parser, iters=3, warmup=1, out="benchmarks/results/cpu/small_map_conv.json")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    images = 2 * args.batch

    conv_rows = []
    for name, c_in, c_out, side, stride in conv_shapes(args.width):
        row = {"conv": name, "images": images, "c_in": c_in, "c_out": c_out}
        for method, fn in (
            ("torch", lambda x, w, s: F.conv2d(x, w, stride=s, padding=1)),
            ("gemm", lambda x, w, s: conv2d_as_matmul(x, w, None, (s, s), (1, 1))),
        ):
            row[f"{method}_forward_ms"], row[f"{method}_backward_ms"] = (
                1000 * t for t in time_conv(fn, images, c_in, c_out, side, stride, device, args)
            )
        row["backward_speedup"] = row["torch_backward_ms"] / max(row["gemm_backward_ms"], 1e-9)
        conv_rows.append(row)
    print_table(conv_rows, list(conv_rows[0]))

    steps = {flag: step_fn(args.width, flag, args.batch, device) for flag in (False, True)}
    times: dict[bool, list[float]] = {False: [], True: []}
    for window in range(args.warmup + args.repeats):  # in turns, so a change in machine load hits both
        for flag, step in steps.items():
            (t,) = time_windows(step, device, args.iters, 1, 0)
            if window >= args.warmup:
                times[flag].append(t)
    step_row = {"width": args.width, "images": images}
    for flag, label in ((False, "torch"), (True, "gemm")):
        step_row[f"{label}_step_ms"] = 1000 * median(times[flag])
        step_row[f"{label}_step_times_s"] = times[flag]
    step_row["step_speedup"] = step_row["torch_step_ms"] / step_row["gemm_step_ms"]
    print_table([step_row], ["width", "images", "torch_step_ms", "gemm_step_ms", "step_speedup"])
    write_json(args.out, "small_map_conv", device, vars(args), conv_rows + [step_row])


if __name__ == "__main__":
    main()
