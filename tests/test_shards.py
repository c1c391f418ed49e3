"""WebDataset tar shards: brace patterns, streamed samples split across workers, a corrupt member stops the
run in one line (or is skipped when allowed), and a tiny fit trains on them."""

import io
import tarfile

import pytest
import torch
from helpers import fakedata
from helpers.cli import run_args, write_tiny_config
from torch.utils.data import DataLoader
from torchvision.io import encode_jpeg, encode_png

from simclr.data import ImageShards
from simclr.data.datasets import collate_batch
from simclr.data.image_files import NO_LABEL
from simclr.data.shards import ShardStream, shard_paths
from simclr.errors import UserError


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(folder, n_shards=3, per_shard=6, corrupt=None) -> str:
    """shard-000000.tar ... with JPEG / PNG images and a caption each; `corrupt` = (shard, sample) gets bad bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    images = fakedata.fake_images(n_shards * per_shard, (3, 30, 40), seed=7)
    for s in range(n_shards):
        with tarfile.open(folder / f"shard-{s:06d}.tar", "w") as tar:
            for i in range(per_shard):
                key, image = f"{s:02d}{i:04d}", images[s * per_shard + i]
                if (s, i) == corrupt:
                    add(tar, f"{key}.jpg", b"\xff\xd8\xff broken")
                elif i % 2:
                    add(tar, f"{key}.png", encode_png(image).numpy().tobytes())
                else:
                    add(tar, f"{key}.jpg", encode_jpeg(image, quality=90).numpy().tobytes())
                add(tar, f"{key}.txt", f"caption {key}".encode())
    return str(folder / f"shard-{{000000..{n_shards - 1:06d}}}.tar")


def test_a_brace_pattern_streams_every_sample_once_across_workers(tmp_path):
    pattern = write_shards(tmp_path / "shards")
    assert len(shard_paths(pattern, "root")) == 3
    stream = ShardStream(shard_paths(pattern, "root"), 16, shuffle=True, buffer=4, skip_bad_images=False)
    seen = []
    for images, labels in DataLoader(stream, batch_size=4, num_workers=2, collate_fn=collate_batch):
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 16, 16) and (labels == NO_LABEL).all()
        seen.append(images)
    assert sum(len(b) for b in seen) == 18  # each of the 18 samples once (3 shards over 2 workers)
    with pytest.raises(UserError, match="1 of the 2 shards of .* do not exist"):
        shard_paths(str(tmp_path / "shards" / "shard-{000002..000003}.tar"), "root")


def test_a_corrupt_member_is_one_line_or_skipped(tmp_path):
    pattern = write_shards(tmp_path / "shards", corrupt=(1, 2))
    strict = ShardStream(shard_paths(pattern, "root"), 16, shuffle=False, buffer=1, skip_bad_images=False)
    with pytest.raises(UserError, match="cannot decode the image jpg of 010002 in .*shard-000001.tar.*skip_bad_images"):
        list(strict)
    lenient = ShardStream(shard_paths(pattern, "root"), 16, shuffle=False, buffer=1, skip_bad_images=True)
    assert len(list(lenient)) == 17


def test_fit_on_shards_with_held_out_validation_shards(tmp_path):
    from simclr.pretraining import run_fit

    write_shards(tmp_path / "shards", n_shards=4)
    with pytest.raises(UserError, match="needs --data.init_args.val_root"):
        ImageShards(str(tmp_path / "shards" / "shard-{000000..000002}.tar"))
    tiny = write_tiny_config(tmp_path)
    data = ["--data", "simclr.data.ImageShards", "--data.init_args.root", str(tmp_path / "shards/shard-{000000..000002}.tar"),
            "--data.init_args.val_root", str(tmp_path / "shards/shard-000003.tar"), "--data.init_args.image_size", "28",
            "--data.init_args.batch_size", "4", "--data.init_args.shuffle_buffer", "8",
            "--model.encoder.init_args.in_channels", "3",
            "--model.augment.init_args.pipeline", '{"class_path": "augmentations.presets.simclr_cifar", "init_args": {"size": 28}}']  # fmt: skip
    cli = run_fit(run_args(tiny, tmp_path / "run", "--trainer.max_epochs", "1", *data))
    assert cli.trainer.global_step == 4  # 18 samples, batches of 4, the short one dropped
    assert torch.isfinite(cli.trainer.callback_metrics["val/loss"])
