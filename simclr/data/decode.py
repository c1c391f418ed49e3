"""Decoding one image file to uint8 RGB, and to a fixed square for the data layer.

torchvision's `decode_image` reads JPEG, PNG, WebP and GIF; a BMP (which starts with `BM`) goes to
Pillow, restricted to that one format (Pillow's other plug-ins, e.g. EPS through Ghostscript, never
see a user's file). 16-bit PNGs are scaled to 8 bits. Any file that cannot be decoded raises a
one-line UserError naming it.

Framing to a square (`frame`, `decode_framed`): the image is centre-cropped to an aspect ratio of at
most `max_aspect` (default 4/3), then resized, antialiased, to size x size. A 4:3 or 3:4 photo is kept
whole; a 16:9 one loses only what lies beyond 4:3 (a 3:1 panorama keeps its centre 4:3). Why: the
device-side RandomResizedCrop then draws its crops from (almost) the whole photo, not only from its
centre square, which would throw away a quarter of a 4:3 photo before any augmentation. What it costs:
the stored square squeezes the kept region by its aspect ratio, at most 4/3 along one axis, a
systematic stretch that lies inside the ratio range [3/4, 4/3] RandomResizedCrop already draws from.

`decode_framed` gives `frame(decode_rgb(path), ...)` faster for JPEGs much larger than the square:
when both sides of the aspect crop are at least twice `size`, Pillow (JPEG plug-in only) decodes at
1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, `Image.draft`), the largest reduction that still leaves
the crop at least `size` on its short side. libjpeg still reads every coefficient, but skips the inverse
DCT, upsampling and colour conversion of the dropped pixels (a 1024x768 photo to 96 px yields 128x96
pixels), and the resize starts from the small image; the pixels differ from the full-size path by the
two filters (DCT scaling then antialiased resize) and by up to half a reduced pixel in where the crop
falls: on smooth photo-like JPEGs under 1 grey level (of 255) on average, a few at most.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image  # Pillow: also what torchvision's and matplotlib's image I/O use
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2.functional import resize

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


def aspect_crop(height: int, width: int, max_aspect: float) -> tuple[int, int]:
    """(h, w) of the centred crop of a height x width image to an aspect ratio of at most `max_aspect`."""
    return min(height, round(width * max_aspect)), min(width, round(height * max_aspect))


def check_frame(size: int, max_aspect: float) -> None:
    if size < 1 or max_aspect < 1:
        raise ValueError(f"a frame needs size >= 1 and max_aspect >= 1, got size={size}, max_aspect={max_aspect}")


def frame(image: Tensor, size: int, max_aspect: float = 4 / 3) -> Tensor:
    """Centre-crops `image` to an aspect ratio of at most `max_aspect`, then resizes it to size x size.

    Args:
        image: uint8 (3, H, W).
        size: side of the square, in pixels.
        max_aspect: the largest long side / short side kept (>= 1); 1 gives the centre square.

    Returns:
        uint8 (3, size, size), contiguous.
    """
    check_frame(size, max_aspect)
    height, width = image.shape[-2:]
    h, w = aspect_crop(height, width, max_aspect)
    top, left = (height - h) // 2, (width - w) // 2
    crop = image[:, top : top + h, left : left + w]  # (3, h, w), h / w and w / h <= max_aspect
    return resize(crop, [size, size], antialias=True).contiguous()  # (3, size, size)


def draft_scale(width: int, height: int, size: int, max_aspect: float = 4 / 3) -> int:
    """The JPEG reduction (1, 2, 4 or 8) that `decode_framed` decodes a width x height JPEG at: the largest
    that keeps the aspect crop's short side at least `size` pixels; 1 means full size (no gain)."""
    spare = min(aspect_crop(height, width, max_aspect)) // size  # (short side of the crop) / size, floored
    return max((s for s in (1, 2, 4, 8) if s <= spare), default=1)


def decode_jpeg_reduced(path: str | Path, size: int, max_aspect: float = 4 / 3) -> Tensor | None:
    """Decodes a JPEG at the reduction `draft_scale` picks, with Pillow's JPEG plug-in only.

    Returns:
        uint8 (3, ~H / s, ~W / s) for the reduction s >= 2; None when the file is not a JPEG, is too small to
        gain (s = 1), has colours Pillow would convert unlike torchvision, or Pillow cannot decode it: then
        `decode_rgb` decides, decoding the file or raising its one-line error, so both paths fail alike.
    """
    try:
        with Image.open(path, formats=["JPEG"]) as image:
            # torchvision reads every CMYK JPEG as Adobe's inverted CMYK; Pillow only when the Adobe marker says so.
            if image.mode not in ("RGB", "L") and not (image.mode == "CMYK" and "adobe" in image.info):
                return None
            scale = draft_scale(image.width, image.height, size, max_aspect)
            if scale == 1:
                return None
            image.draft("RGB", (image.width // scale, image.height // scale))  # libjpeg decodes at 1 / scale
            rgb = np.array(image if image.mode == "RGB" else image.convert("RGB"))  # (H / s, W / s, 3), rounded up
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return None
    return torch.from_numpy(rgb).permute(2, 0, 1)  # (3, H / scale, W / scale)


def decode_framed(path: str | Path, size: int, max_aspect: float = 4 / 3) -> Tensor:
    """`frame(decode_rgb(path), size, max_aspect)`, with large JPEGs decoded at reduced scale (see above).

    EXIF orientation is ignored on both paths, as in `decode_rgb`: torchvision 0.29's `decode_image` leaves
    it unapplied by default (`apply_exif_orientation=False`), and Pillow applies it only through
    `ImageOps.exif_transpose`, which is not called.

    Returns:
        uint8 (3, size, size), contiguous. Raises decode_rgb's one-line UserError for a file it cannot decode.
    """
    check_frame(size, max_aspect)
    image = decode_jpeg_reduced(path, size, max_aspect)  # (3, H / s, W / s), or None: the full-size path
    return frame(decode_rgb(path) if image is None else image, size, max_aspect)
