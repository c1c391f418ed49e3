"""The device a command computes on: `--device cpu | cuda | cuda:N | auto`, and its name for a results row."""

import os
import platform
from pathlib import Path

import torch

from simclr.errors import UserError


def resolve_device(device: str) -> torch.device:
    """ "auto" -> CUDA when available, else the CPU; "cuda" without a GPU is a one-line UserError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise UserError(f"--device {device} is not a device torch knows; pass --device cpu, cuda or auto") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device} but torch sees no CUDA GPU here; pass --device cpu (or auto)")
    return dev


def device_name(device: str | torch.device) -> str:
    """The GPU's name, or the CPU's model and the number of cores this process may use, e.g.
    "AMD EPYC 7B13 (2 cores)"."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine() or "CPU"
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({cores} cores)"
