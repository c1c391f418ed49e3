"""Shared pieces of the caption tests: captions to train a small tokenizer on, images on disk, one-line error
checks (the `tokenizer_file` fixture is in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import fakedata
from PIL import Image

from simclr.captions import CaptionTokenizer

WORDS = "a an the red grey dark light small large dress boot shoe bag coat shirt photo of on black background".split()


def some_captions(n: int = 400) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, 5)) for _ in range(n)]


def tokenizer(path: Path, context_length: int = 12) -> CaptionTokenizer:
    return CaptionTokenizer.from_file(path, context_length)


def write_images(folder: Path, names: list[str], size: tuple[int, int] = (20, 24)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    images = fakedata.fake_images(len(names), (size[0], size[1], 3), seed=1).numpy()
    for name, array in zip(names, images, strict=True):
        Image.fromarray(array).save(folder / name)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message
