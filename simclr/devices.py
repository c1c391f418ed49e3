"""The device a command computes on: `--device cpu | cuda | cuda:N | auto`."""

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
