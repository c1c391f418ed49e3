"""Image-caption pairs in WebDataset tar shards: streamed (image, tokens) batches, and a sample without a caption,
with an empty one, or with a corrupt image: one line naming shard and key, or skipped when allowed."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import torch
from helpers import fakedata
from torchvision.io import encode_jpeg, encode_png

from simclr.captions import CaptionShards, train_tokenizer
from simclr.errors import UserError


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(folder: Path, n_shards: int = 3, per_shard: int = 4, bad: dict | None = None) -> str:
    """shard-000000.tar ...: JPEG / PNG images, each with a .txt caption; `bad` maps a key to "corrupt" (image
    bytes broken), "no caption" or "empty" (a blank caption). Returns the brace pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    images = fakedata.fake_images(n_shards * per_shard, (3, 20, 24), seed=3)
    bad = bad or {}
    for s in range(n_shards):
        with tarfile.open(folder / f"shard-{s:06d}.tar", "w") as tar:
            for i in range(per_shard):
                key, image = f"{s:02d}{i:04d}", images[s * per_shard + i]
                if bad.get(key) == "corrupt":
                    add(tar, f"{key}.jpg", b"\xff\xd8\xff broken")
                elif i % 2:
                    add(tar, f"{key}.png", encode_png(image).numpy().tobytes())
                else:
                    add(tar, f"{key}.jpg", encode_jpeg(image, quality=90).numpy().tobytes())
                if bad.get(key) != "no caption":
                    add(tar, f"{key}.txt", b"  \n" if bad.get(key) == "empty" else f"a dark dress {key}".encode())
    return str(folder / f"shard-{{000000..{n_shards - 1:06d}}}.tar")


def shards(folder: Path, bad: dict | None = None, **options) -> CaptionShards:
    """Train shards 0-2 and a validation shard in `folder`, tokenizer.json beside them (the default place)."""
    train = write_shards(folder / "train", bad=bad)
    val = write_shards(folder / "val", n_shards=1)
    train_tokenizer([f"a dark dress {k:06d}" for k in range(200)], folder / "train" / "tokenizer.json", 300)
    settings = dict(val_root=val, image_size=16, context_length=8, batch_size=4) | options
    return CaptionShards(train, **settings)


def test_batches_are_uint8_images_and_token_rows(tmp_path):
    dm = shards(tmp_path)
    dm.prepare_data()
    batches = list(dm.train_dataloader())
    assert len(batches) == 3  # 12 samples in batches of 4
    for images, tokens in batches:
        assert images.dtype == torch.uint8 and images.shape == (4, 3, 16, 16)
        assert tokens.dtype == torch.int64 and tokens.shape == (4, 8)
        assert (tokens[:, 0] == dm.tokenizer.sot_id).all() and ((tokens == dm.tokenizer.eot_id).sum(1) == 1).all()
    images, tokens = next(iter(dm.val_dataloader()))
    assert images.shape == (4, 3, 16, 16) and tokens.shape == (4, 8)
    grey = shards(tmp_path / "grey", channels=1)
    grey.setup("fit")
    assert next(iter(grey.train_dataloader()))[0].shape == (4, 1, 16, 16)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("corrupt", "cannot decode the image jpg of 010002 in .*shard-000001.tar"),
        ("no caption", "the sample 010002 in .*shard-000001.tar has no caption"),
        ("empty", "the sample 010002 in .*shard-000001.tar has an empty caption"),
    ],
)
def test_a_bad_sample_is_one_line_naming_shard_and_key_or_skipped(tmp_path, kind, expected):
    dm = shards(tmp_path, bad={"010002": kind})
    dm.setup("fit")
    with pytest.raises(UserError, match=expected) as e:
        list(dm.train_dataloader())
    assert "\n" not in str(e.value) and "skip_bad_images" in str(e.value)
    skipping = shards(tmp_path / "skip", bad={"010002": kind}, skip_bad_images=True, batch_size=1)
    skipping.setup("fit")
    assert len(list(skipping.train_dataloader())) == 11


def test_shard_option_mistakes_are_one_line(tmp_path):
    with pytest.raises(UserError, match="needs --data.init_args.val_root"):
        CaptionShards(str(tmp_path / "a.tar"))
    pattern = write_shards(tmp_path / "train", n_shards=2)
    dm = CaptionShards(pattern, val_root=pattern)  # construction reads nothing
    with pytest.raises(UserError, match=r"tokenizer .*train/tokenizer.json does not exist; .*simclr tokenizer"):
        dm.setup("fit")
    train_tokenizer(["a dress", "a dark dress"], tmp_path / "train" / "tokenizer.json", 300)
    with pytest.raises(UserError, match="shares shards with root"):
        CaptionShards(pattern, val_root=pattern).setup("fit")
    with pytest.raises(UserError, match="not class labels"):
        dm.labelled_dataset("test")
