"""Framing images to a fixed square: `frame`'s aspect policy, and `decode_framed` against
`frame(decode_rgb(path))` (exact on the full-size path, within JPEG's DCT-scaling loss on the reduced one)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, JpegImagePlugin
from torchvision.io import encode_jpeg, write_file, write_png

from simclr.data.decode import decode_framed, decode_jpeg_reduced, decode_rgb, draft_scale, frame
from simclr.errors import UserError

RED, BLUE = (255, 0, 0), (0, 0, 255)


def photo(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """uint8 (3, height, width) photo-like content: a smooth bicubic colour field plus mild noise."""
    gen = torch.Generator().manual_seed(seed)
    field = torch.rand(1, 3, 5, 7, generator=gen) * 255  # (1, 3, 5, 7) control points
    image = torch.nn.functional.interpolate(field, size=(height, width), mode="bicubic", align_corners=False)[0]
    return (image + 4 * torch.randn(3, height, width, generator=gen)).clamp(0, 255).round().to(torch.uint8)


def bordered(height: int, width: int, border: int) -> torch.Tensor:
    """uint8 (3, height, width): mid grey with a red left and a blue right band `border` pixels wide."""
    image = torch.full((3, height, width), 128, dtype=torch.uint8)
    image[:, :, :border] = torch.tensor(RED, dtype=torch.uint8)[:, None, None]
    image[:, :, width - border :] = torch.tensor(BLUE, dtype=torch.uint8)[:, None, None]
    return image


def write_jpeg(path, image: torch.Tensor, quality: int = 90):
    write_file(str(path), encode_jpeg(image, quality=quality))
    return path


def mean_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.int() - b.int()).abs().float().mean().item()


# --- frame ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("height, width", [(30, 40), (40, 30), (33, 33), (20, 60), (60, 20), (5, 200), (1, 1)])
@pytest.mark.parametrize("size", [8, 24, 96])
def test_frame_shape(height, width, size):
    framed = frame(photo(height, width), size)
    assert framed.dtype == torch.uint8 and framed.shape == (3, size, size) and framed.is_contiguous()


@pytest.mark.parametrize("height, width", [(300, 400), (400, 300), (300, 300), (300, 360)])
def test_frame_keeps_whole_image_up_to_4_3(height, width):
    """Aspect <= 4/3: bands a tenth of the width on both sides survive (a centre square would cut them)."""
    framed = frame(bordered(height, width, border=width // 10), 40)  # bands 4 output pixels wide
    assert framed[:, 20, 0].tolist() == list(RED) and framed[:, 20, -1].tolist() == list(BLUE)


def test_frame_crops_3_1_to_its_centre_4_3():
    image = bordered(100, 300, border=50)  # crop: 133 px of the centre, the bands lie beyond it
    framed = frame(image, 40)
    assert (framed == 128).all()
    assert frame(photo(100, 300), 40).shape == (3, 40, 40)


def test_frame_crop_width_is_4_3_of_the_height():
    """A 3:1 image keeps its centre 400 of 900 columns: a marker column at 250 is cut, one at 260 kept."""
    for column, kept in [(249, False), (250, True), (649, True), (650, False)]:
        image = torch.zeros(3, 300, 900, dtype=torch.uint8)
        image[:, :, column] = 255
        assert bool(frame(image, 400).amax() > 0) == kept, column


def test_frame_max_aspect_1_is_the_centre_square():
    image = photo(30, 40)
    assert torch.equal(frame(image, 30, max_aspect=1.0), image[:, :, 5:35].contiguous())


def test_frame_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_aspect >= 1"):
        frame(photo(8, 8), 4, max_aspect=0.5)
    with pytest.raises(ValueError, match="size >= 1"):
        frame(photo(8, 8), 0)


# --- decode_framed -------------------------------------------------------------------------------


@pytest.mark.parametrize("height, width", [(75, 100), (120, 90), (50, 160), (300, 400)])
@pytest.mark.parametrize("size", [16, 96])
def test_decode_framed_png_is_exact(tmp_path, height, width, size):
    path = tmp_path / "image.png"
    write_png(photo(height, width), str(path))
    framed = decode_framed(path, size)
    assert torch.equal(framed, frame(decode_rgb(path), size)) and framed.is_contiguous()


def test_decode_framed_small_jpeg_is_exact(tmp_path):
    """Too small to gain from a reduced decode (500x375 to 224): the full-size path, bit for bit."""
    path = write_jpeg(tmp_path / "small.jpg", photo(375, 500))
    assert draft_scale(500, 375, 224) == 1 and decode_jpeg_reduced(path, 224) is None
    assert torch.equal(decode_framed(path, 224), frame(decode_rgb(path), 224))


@pytest.mark.parametrize("height, width", [(768, 1024), (1500, 2000), (1024, 768)])
@pytest.mark.parametrize("size", [96, 224])
def test_decode_framed_large_jpeg_matches(tmp_path, height, width, size):
    path = write_jpeg(tmp_path / "photo.jpg", photo(height, width))
    framed, reference = decode_framed(path, size), frame(decode_rgb(path), size)
    assert framed.dtype == torch.uint8 and framed.shape == reference.shape == (3, size, size)
    assert framed.is_contiguous()
    assert mean_abs_diff(framed, reference) < 3 and (framed.int() - reference.int()).abs().max() <= 12


@pytest.mark.parametrize(
    "width, height, size, scale",
    [(1024, 768, 96, 8), (1024, 768, 224, 2), (2000, 1500, 96, 8), (2000, 1500, 224, 4), (500, 375, 96, 2),
     (500, 375, 224, 1), (447, 447, 224, 1), (448, 448, 224, 2), (3000, 1000, 224, 4), (60, 40, 96, 1)],
)  # fmt: skip
def test_draft_scale_keeps_the_target_resolution(width, height, size, scale):
    assert draft_scale(width, height, size) == scale
    assert min(height, width) // scale >= size or scale == 1  # the aspect crop keeps the short side whole


def test_large_jpeg_takes_the_draft_path(tmp_path, monkeypatch):
    calls = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        calls.append((mode, size))
        return draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    path = write_jpeg(tmp_path / "photo.jpg", photo(768, 1024))
    assert decode_jpeg_reduced(path, 96).shape == (3, 96, 128)  # decoded at 1/8
    decode_framed(path, 224)
    assert calls == [("RGB", (128, 96)), ("RGB", (512, 384))]
    decode_framed(write_jpeg(tmp_path / "small.jpg", photo(375, 500)), 224)
    assert len(calls) == 2  # no reduction worth taking: the full-size path


def test_exif_orientation_ignored_like_decode_rgb(tmp_path):
    """A stored 4:3 image tagged 'rotate 90' (orientation 6) is framed as stored on both paths."""
    image = bordered(768, 1024, border=100).permute(1, 2, 0).numpy()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(image).save(path, quality=90, exif=exif)
    framed, reference = decode_framed(path, 96), frame(decode_rgb(path), 96)
    assert decode_rgb(path).shape == (3, 768, 1024) and mean_abs_diff(framed, reference) < 3
    assert framed[0, 48, 0] > 200 and framed[2, 48, -1] > 200  # red still left, blue still right


@pytest.mark.parametrize("size", [32, 200])  # 200: full-size path; 32: reduced
def test_greyscale_jpeg_becomes_rgb(tmp_path, size):
    grey = photo(480, 640)[0].numpy()
    path = tmp_path / "grey.jpg"
    Image.fromarray(grey).save(path, quality=90)
    framed = decode_framed(path, size)
    assert framed.shape == (3, size, size) and torch.equal(framed[0], framed[1]) and torch.equal(framed[1], framed[2])
    assert mean_abs_diff(framed, frame(decode_rgb(path), size)) < 3


@pytest.mark.parametrize("size", [32, 200])
def test_cmyk_jpeg_becomes_rgb(tmp_path, size):
    rgb = photo(480, 640)
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb.permute(1, 2, 0).numpy()).convert("CMYK").save(path, quality=95)
    with Image.open(path) as written:
        assert written.mode == "CMYK"
    framed = decode_framed(path, size)
    assert framed.shape == (3, size, size) and framed.dtype == torch.uint8
    assert mean_abs_diff(framed, frame(rgb, size)) < 3 and mean_abs_diff(framed, frame(decode_rgb(path), size)) < 3


def test_cmyk_without_adobe_marker_takes_the_full_size_path(tmp_path, monkeypatch):
    """Pillow would read non-inverted CMYK where torchvision reads inverted: left to decode_rgb."""
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(photo(480, 640).permute(1, 2, 0).numpy()).convert("CMYK").save(path, quality=95)
    assert decode_jpeg_reduced(path, 32) is not None
    image = Image.open(path)
    image.info.pop("adobe")
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: image)
    assert decode_jpeg_reduced(path, 32) is None


def truncated_jpeg() -> bytes:
    data = encode_jpeg(photo(768, 1024), quality=90).numpy().tobytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "the file is empty"),
        (b"hello", "Unsupported image file"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, None),  # a JPEG header and nothing readable
        (truncated_jpeg(), None),  # large enough for the reduced path
    ],
)
@pytest.mark.parametrize("size", [32, 224])
def test_undecodable_file_is_decode_rgbs_one_line_error(tmp_path, content, reason, size):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(UserError) as expected:
        decode_rgb(path)
    with pytest.raises(UserError) as error:
        decode_framed(path, size)
    message = str(error.value)
    assert message == str(expected.value) and "\n" not in message
    assert message.startswith(f"cannot decode image {path} (") and message.endswith("); delete or replace the file")
    assert reason is None or f"({reason}" in message


def test_missing_file_is_decode_rgbs_error(tmp_path):
    path = tmp_path / "missing.jpg"
    with pytest.raises(UserError) as expected:
        decode_rgb(path)
    with pytest.raises(UserError, match="cannot decode image") as error:
        decode_framed(path, 32)
    assert str(error.value) == str(expected.value)


def test_png_under_a_jpg_name(tmp_path):
    """The format comes from the bytes, not the suffix."""
    path = tmp_path / "really_a_png.jpg"
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(photo(600, 800).permute(1, 2, 0))).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    assert torch.equal(decode_framed(path, 64), frame(decode_rgb(path), 64))
