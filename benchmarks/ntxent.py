"""NT-Xent (simclr.losses.nt_xent.nt_xent) forward + backward time and peak memory for batch sizes B.

Inputs are two (B, D) projections that require grad; one timed call is loss forward + backward.
Peak memory is the extra memory the call needs above its inputs: on CUDA `torch.cuda.max_memory_allocated`
after `reset_peak_memory_stats`; on the CPU (no allocator statistics) the peak resident set size of a
fresh child process running one call, minus that process's resident size just before the call (after a
warm-up call on B=8 has loaded the kernels; the CPU figure includes the allocator's slack).

    python benchmarks/ntxent.py --batches 256 512 1024 2048 4096 8192 16384     # a GPU machine
    python benchmarks/ntxent.py --batches 8 16 --repeats 1 --warmup 0           # CI
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import torch
from common import add_timing_arguments, median, pick_device, print_table, time_windows, write_json

from simclr.losses.nt_xent import nt_xent


def inputs(batch: int, dim: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator(device=device).manual_seed(0)
    make = lambda: torch.randn(batch, dim, device=device, dtype=dtype, generator=gen).requires_grad_()  # noqa: E731
    return make(), make()


def call(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> None:
    nt_xent(z_a, z_b, temperature).backward()
    z_a.grad = z_b.grad = None


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def cpu_peak_child(batch: int, dim: int, dtype: str, temperature: float) -> None:
    """Runs in a fresh process: prints the peak RSS growth (bytes) of one call over the RSS before it."""
    call(*inputs(8, dim, torch.device("cpu"), getattr(torch, dtype)), temperature)  # loads kernels, thread pool
    z_a, z_b = inputs(batch, dim, torch.device("cpu"), getattr(torch, dtype))
    before = rss_bytes()
    call(z_a, z_b, temperature)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(json.dumps({"peak_extra_bytes": max(0, peak - before)}))


def peak_memory(batch: int, args, device: torch.device) -> int:
    if device.type == "cuda":
        z_a, z_b = inputs(batch, args.dim, device, getattr(torch, args.dtype))
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        call(z_a, z_b, args.temperature)
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    cmd = [
        sys.executable,
        __file__,
        "--_cpu-peak",
        str(batch),
        "--dim",
        str(args.dim),
        "--dtype",
        args.dtype,
        "--temperature",
        str(args.temperature),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_extra_bytes"]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--dim", type=int, default=128, help="projection dimension D")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="dtype of the projections")
    parser.add_argument("--temperature", type=float, default=0.1)
    add_timing_arguments(parser, iters=5, warmup=1, out="benchmarks/results/ntxent.json", unit="calls")
    parser.add_argument("--_cpu-peak", dest="cpu_peak", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cpu_peak is not None:
        cpu_peak_child(args.cpu_peak, args.dim, args.dtype, args.temperature)
        return []
    device = pick_device(args.device)
    rows = []
    for batch in args.batches:
        z_a, z_b = inputs(batch, args.dim, device, getattr(torch, args.dtype))
        times = time_windows(lambda: call(z_a, z_b, args.temperature), device, args.iters, args.repeats, args.warmup)
        z_a = z_b = None  # free the inputs before the memory measurement
        peak = peak_memory(batch, args, device)
        rows.append({"batch": batch, "dim": args.dim, "dtype": args.dtype, "median_ms": 1e3 * median(times),
                     "peak_extra_mib": peak / 2**20, "times_s": times,
                     "peak_method": "cuda.max_memory_allocated" if device.type == "cuda" else "child ru_maxrss - rss"})  # fmt: skip
    print_table(rows, ["batch", "dim", "dtype", "median_ms", "peak_extra_mib"])
    write_json(args.out, "ntxent", device, {k: v for k, v in vars(args).items() if k != "cpu_peak"}, rows)
    return rows


if __name__ == "__main__":
    main()
