"""Decoding one image file to uint8 RGB: torchvision where it can, Pillow for the formats it lacks.

torchvision's `decode_image` reads JPEG, PNG, WebP and GIF; a BMP (which starts with `BM`) goes to
Pillow, restricted to that one format (Pillow's other plug-ins, e.g. EPS through Ghostscript, never
see a user's file). 16-bit PNGs are scaled to 8 bits. Any file that cannot be decoded raises a
one-line UserError naming it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image  # Pillow: also what torchvision's and matplotlib's image I/O use
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image, read_file

from simclr.errors import UserError, short_reason

PIL_FORMATS = {b"BM": "BMP"}  # leading bytes -> Pillow format, for formats torchvision does not decode


def to_uint8(image: Tensor) -> Tensor:
    """uint16 (C, H, W) in 0..65535 -> uint8 (C, H, W), value round(v * 255 / 65535); uint8 unchanged."""
    if image.dtype == torch.uint8:
        return image
    if image.dtype != torch.uint16:
        raise ValueError(f"expected a uint8 or uint16 image, got {image.dtype}")
    return ((image.to(torch.int32) * 255 + 32767) // 65535).to(torch.uint8)


def decode_with_pil(data: bytes, fmt: str) -> Tensor:
    """Decodes `data` (one file of format `fmt`, e.g. "BMP") with Pillow to uint8 RGB (3, H, W)."""
    with Image.open(io.BytesIO(data), formats=[fmt]) as image:
        rgb = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()  # (3, H, W)


def decode_rgb(path: str | Path) -> Tensor:
    """Reads and decodes one image file.

    Returns:
        uint8 (3, H, W): greyscale and palette images expanded, alpha dropped, 16-bit scaled to 8, the
        first frame of an animation.
    """
    path = Path(path)
    try:
        data = read_file(str(path))  # (file size,) uint8
    except RuntimeError as e:
        reason = "the file is empty" if path.is_file() and path.stat().st_size == 0 else short_reason(e)
        raise UserError(f"cannot decode image {path} ({reason}); delete or replace the file") from e
    fmt = PIL_FORMATS.get(bytes(data[:2].tolist()))
    try:
        if fmt is not None:
            image = decode_with_pil(data.numpy().tobytes(), fmt)
        else:
            image = decode_image(data, mode=ImageReadMode.RGB)  # (3, H, W) uint8, or uint16 for 16-bit PNG
    except (RuntimeError, ValueError, OSError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise UserError(f"cannot decode image {path} ({short_reason(e)}); delete or replace the file") from e
    if image.ndim == 4:  # an animated GIF (even under a .jpg name): (frames, 3, H, W), keep the first
        image = image[0]
    return to_uint8(image)
