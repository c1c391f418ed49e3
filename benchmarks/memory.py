"""Peak memory and time of one SimCLR training step at large batches: plain, with the gradient cache
(`SimCLR(chunk_size=...)`, with the loss's anchors scored in blocks, `NTXentLoss(anchor_chunk=...)`) and with
activation checkpointing.

    python benchmarks/memory.py --device cpu --models demo --batches 512 4096 --out benchmarks/results/cpu/memory.json

Each configuration runs in a fresh subprocess: on the CPU its peak is the process's maximum resident set
size (`ru_maxrss`, everything the process ever held: Python, torch, the model and the step), reported with
the resident size just before the first step; on CUDA `torch.cuda.max_memory_allocated`. A step is the
augmentation of a uint8 batch on the device, forward, backward and the optimiser step, as in training; the
time is the median of `--steps` steps after one warm-up step. A configuration that runs out of memory is
reported as such.

Models: `demo` is configs/fashion_mnist.yaml's (ResNet-10, 48-96-192-768, 28 px greyscale); `r18-96` a
ResNet-18 at 96 px RGB (configs/own_images.yaml's).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import median, pick_device, print_table, write_json

MODELS = {  # name -> `simclr fit` arguments that build it
    "demo": ["--config", "fashion_mnist"],
    "r18-96": ["--config", "own_images", "--data", "simclr.data.FashionMNIST", "--data.init_args.root", "unused"],
}
SHAPES = {"demo": (1, 28), "r18-96": (3, 96)}  # (channels, side) of the uint8 batch


def rss_mb() -> float:
    """The process's resident set size now, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one(config: dict) -> dict:
    """Runs one configuration in this process; returns its figures."""
    from simclr.pretraining import run_fit

    device = pick_device(config["device"])
    args = [*MODELS[config["model"]], "--trainer.logger", "false"]
    if config["chunk"]:
        args += ["--model.chunk_size", str(config["chunk"])]
    if config.get("anchor_chunk"):
        args += ["--model.loss.init_args.anchor_chunk", str(config["anchor_chunk"])]
    if config["checkpointing"]:
        args += ["--model.encoder.init_args.checkpointing", "true"]
    model = run_fit(args, run=False, save_config_callback=None).model.to(device).train()
    optimizer = model.build_optimizer()
    channels, side = SHAPES[config["model"]]
    images = torch.randint(0, 256, (config["batch"], channels, side, side), dtype=torch.uint8, device=device)
    before = rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(config["steps"] + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = model.step(model.augment(images), None, "train")
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    peak = (
        torch.cuda.max_memory_allocated(device) / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    step_s = median(times[1:])
    return {**config, "status": "ok", "peak_mb": round(peak, 1), "rss_before_mb": round(before, 1),
            "step_s": round(step_s, 4), "ms_per_image": round(1000 * step_s / config["batch"], 3)}  # fmt: skip


def run_in_subprocess(config: dict) -> dict:
    """`one(config)` in a fresh interpreter (its own peak memory); out of memory is a result."""
    done = subprocess.run([sys.executable, __file__, "--one", json.dumps(config)], capture_output=True, text=True)
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    reason = "out of memory" if done.returncode in (-9, 137) or "out of memory" in done.stderr else "failed"
    return {**config, "status": reason, "error": done.stderr.strip().splitlines()[-1:] or [str(done.returncode)]}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="+", default=["demo"], choices=sorted(MODELS))
    p.add_argument("--batches", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--chunks", type=int, nargs="+", default=[128, 256], help="gradient-cache chunk sizes")
    p.add_argument(
        "--anchor-chunk",
        type=int,
        default=1024,
        help="with the gradient cache, the loss's anchors per block (NTXentLoss anchor_chunk); 0: none",
    )
    p.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/cpu/memory.json"))
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return []
    configs = []
    for model in args.models:
        for batch in args.batches:
            base = {"model": model, "batch": batch, "device": args.device, "steps": args.steps}
            configs.append({**base, "chunk": None, "checkpointing": False})
            cached = {"checkpointing": False, "anchor_chunk": args.anchor_chunk or None}
            configs += [{**base, "chunk": c, **cached} for c in args.chunks if c < batch]
            configs.append({**base, "chunk": None, "checkpointing": True})
    results = []
    for config in configs:
        results.append(run_in_subprocess(config))
        print(results[-1], flush=True)
    columns = [
        "model",
        "batch",
        "chunk",
        "anchor_chunk",
        "checkpointing",
        "status",
        "peak_mb",
        "rss_before_mb",
        "step_s",
        "ms_per_image",
    ]
    print_table(results, columns)
    settings = {k: getattr(args, k) for k in ("models", "batches", "chunks", "anchor_chunk", "steps")}
    write_json(args.out, "memory", pick_device(args.device), settings, results)
    return results


if __name__ == "__main__":
    main()
