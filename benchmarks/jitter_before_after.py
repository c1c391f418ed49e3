"""Colour jitter before and after issue 6: the old `ops.color_jitter` (4 HSV round trips through kornia,
read from git at commit f412b6b) vs the current one, on the same inputs; prints the max difference and
the median time of each.

    python benchmarks/jitter_before_after.py --device cpu
"""

from __future__ import annotations

import argparse
import subprocess
import types

import torch
from common import REPO, median, pick_device, print_table, time_windows

from augmentations import ops

OLD_COMMIT = "f412b6b"  # main before issue 6


def old_ops() -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:augmentations/ops.py"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("ops_before")
    exec(compile(source, f"{OLD_COMMIT}:augmentations/ops.py", "exec"), module.__dict__)
    return module


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["512x3x32", "512x1x28", "32x3x224"], help="BxCxS")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    before = old_ops()
    rows = []
    for shape in args.shapes:
        batch, channels, side = map(int, shape.split("x"))
        torch.manual_seed(0)
        images = torch.rand(batch, channels, side, side, device=device)
        factors = [0.2 + 1.6 * torch.rand(batch, device=device) for _ in range(3)]
        hue = torch.rand(batch, device=device) - 0.5
        order = torch.argsort(torch.rand(batch, 4, device=device), dim=1)
        params = (*factors, hue, order)
        diff = (before.color_jitter(images, *params) - ops.color_jitter(images, *params)).abs().max().item()
        old = median(time_windows(lambda: before.color_jitter(images, *params), device, 1, args.repeats, 1))
        new = median(time_windows(lambda: ops.color_jitter(images, *params), device, 1, args.repeats, 1))
        rows.append({"shape": shape, "before_s": old, "after_s": new, "speedup": old / new, "max_abs_diff": diff})
    print_table(rows, ["shape", "before_s", "after_s", "speedup", "max_abs_diff"])
    return rows


if __name__ == "__main__":
    main()
