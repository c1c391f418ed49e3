"""Data-side user input: where an image folder's test images come from, image formats, damaged dataset
files and bad data options. A mistake ends in one line (through `simclr`, exit status 1) and writes nothing."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import fakedata
from helpers.cli import run_args, user_error

from simclr.data import datamodules as data
from simclr.data.decode import decode_rgb
from simclr.data.holdout import held_out_count, stratified_holdout
from simclr.data.readers import read_cifar, read_fashion_mnist, read_stl10
from simclr.errors import UserError
from simclr.pretraining import run_fit


def folder_args(tiny: Path, run: Path, root: Path, *extra: str) -> list[str]:
    """`fit` arguments for the tiny model on the image folder `root` (16 px crops, batches of 4)."""
    return run_args(tiny, run, "--data", "simclr.data.datamodules.ImageFolder", "--data.init_args.root", str(root),
                    "--data.init_args.image_size", "16", "--data.init_args.batch_size", "4",
                    "--model.encoder.init_args.in_channels", "3", "--model.augment.init_args.pipeline",
                    "augmentations.presets.simclr_cifar", "--model.augment.init_args.pipeline.size", "16", *extra)  # fmt: skip


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_nothing_written(run: Path) -> None:
    """No checkpoint, saved config or TensorBoard events from a run that stopped on a user mistake."""
    written = [p for p in files(run) if p.endswith((".ckpt", "config.yaml", "hparams.yaml")) or "tfevents" in p]
    assert written == [], written


def one_line_error(call, *expected: str) -> None:
    """`call()` raises a one-line UserError that contains each of `expected`."""
    with pytest.raises(UserError) as error:
        call()
    assert "\n" not in str(error.value) and all(text in str(error.value) for text in expected), str(error.value)


# --- image folders: the test set never shares an image with the training set ---------------------


@pytest.mark.slow
def test_image_folder_without_validation_images(monkeypatch, capsys, tiny, tmp_path):
    root = fakedata.write_image_folder(tmp_path / "images" / "train", n_per_class=4)
    before = files(tmp_path / "images")
    line = user_error(monkeypatch, capsys, *folder_args(tiny, tmp_path / "run", root))
    assert line == (
        f"simclr: error: no validation images for the image folder {root}: pass --data.init_args.val_root DIR, "
        f"put them in {root}/../val (or ../test), or hold out a share of the train images with "
        f"--data.init_args.val_fraction 0.1"
    )
    assert files(tmp_path / "images") == before
    assert_nothing_written(tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, expected",
    [
        (["--data.init_args.val_root", "VAL", "--data.init_args.val_fraction", "0.1"], "pass only one: val_root"),
        (["--data.init_args.val_fraction", "1.5"], "val_fraction is 1.5, but it is the share of each class"),
        (["--data.init_args.val_fraction", "0"], "set --data.init_args.val_fraction between 0 and 1"),
        (["--data.init_args.val_root", "TRAIN"], "val_root is the train folder"),
        (["--data.init_args.image_size", "0"], "image_size is 0; set --data.init_args.image_size"),
        (["--data.init_args.num_workers", "-1"], "num_workers is -1; set --data.init_args.num_workers 0"),
        (["--data.init_args.batch_size", "0"], "batch_size is 0; set --data.init_args.batch_size"),
        (["--data.init_args.val_batch_size", "-2"], "val_batch_size is -2"),
        (["--data.init_args.batch_size", "64"], "batch_size 64 exceeds the 8 training images"),
        (["--data.init_args.device_resident", "true"], "device_resident: false for image folders"),
        (
            ["--data.init_args.device_resident", "true", "--data.init_args.num_workers", "2"],
            "num_workers 2 would be ignored",
        ),
    ],
)
def test_bad_image_folder_options(monkeypatch, capsys, tiny, tmp_path, options, expected):
    root = fakedata.write_image_folder(tmp_path / "images" / "train", n_per_class=4)
    val = fakedata.write_image_folder(tmp_path / "images" / "val", n_per_class=2)
    options = [{"VAL": str(val), "TRAIN": str(root)}.get(option, option) for option in options]
    line = user_error(monkeypatch, capsys, *folder_args(tiny, tmp_path / "run", root, *options))
    assert expected in line, line
    assert_nothing_written(tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize("mistake", ["extra val class", "empty class folder", "root is a file", "one image to split"])
def test_bad_image_folder_layout(monkeypatch, capsys, tiny, tmp_path, mistake):
    root = fakedata.write_image_folder(tmp_path / "images" / "train", n_per_class=4)
    val = fakedata.write_image_folder(tmp_path / "images" / "val", n_per_class=2)
    extra, expected = [], ""
    if mistake == "extra val class":
        fakedata.write_image_folder(val, classes=("zebra", "yak"), n_per_class=1)
        expected = f"{val} has classes the train folder lacks: yak, zebra; give it the same class sub-folders"
    elif mistake == "empty class folder":
        (root / "c").mkdir()
        expected = f"no images in the class folder {root / 'c'}; put jpg, jpeg, png, bmp, webp images in it"
    elif mistake == "root is a file":
        root = tmp_path / "images" / "list.txt"
        root.write_text("a/000.png")
        expected = f"{root} is a file, not an image folder; pass --data.init_args.root DIR"
    else:
        for path in sorted((root / "b").iterdir())[1:]:
            path.unlink()
        extra, expected = ["--data.init_args.val_fraction", "0.2"], f"the class folder {root / 'b'} has 1 image"
    line = user_error(monkeypatch, capsys, *folder_args(tiny, tmp_path / "run", root, *extra))
    assert expected in line, line
    assert_nothing_written(tmp_path / "run")


@pytest.mark.slow
def test_fit_on_held_out_split_of_mixed_formats(tiny, tmp_path):
    """png, bmp, jpg and 16-bit png images, no val folder: 2 steps train on the kept share."""
    root = fakedata.write_image_folder(tmp_path / "train", n_per_class=3)
    pixels = fakedata.fake_images(3, (20, 20, 3), seed=5).numpy()
    for i, name in enumerate(("a/x.bmp", "b/y.jpg", "b/z.bmp")):
        fakedata.write_pil_image(root / name, pixels[i])
    fakedata.write_pil_image(root / "a" / "deep.png", (np.arange(400).reshape(20, 20) * 150).astype(np.uint16))
    extra = ["--data.init_args.val_fraction", "0.25", "--trainer.max_steps", "2"]
    run_fit(folder_args(tiny, tmp_path / "run", root, *extra))
    assert (tmp_path / "run" / "ckpt" / "last.ckpt").is_file()


def test_validation_folder_sources(tmp_path):
    root = fakedata.write_image_folder(tmp_path / "data" / "train", n_per_class=4)
    fakedata.write_image_folder(tmp_path / "data" / "test", n_per_class=3)
    dm = data.ImageFolder(str(root), image_size=8)
    assert dm.resolved_val_root() == tmp_path / "data" / "test"
    assert dm.test_set_description() == f"ImageFolder val folder (6 images) in {tmp_path / 'data' / 'test'}"
    fakedata.write_image_folder(tmp_path / "data" / "val", n_per_class=2)  # val before test
    assert len(data.ImageFolder(str(root), image_size=8).labelled_dataset("test")) == 4
    other = fakedata.write_image_folder(tmp_path / "elsewhere", n_per_class=1)
    assert len(data.ImageFolder(str(root), val_root=str(other), image_size=8).labelled_dataset("test")) == 2
    val = str(tmp_path / "data" / "val")
    one_line_error(lambda: data.ImageFolder(val, image_size=8, val_root=val).setup(), "val_root is the train folder")


def test_held_out_split(tmp_path):
    root = fakedata.write_image_folder(tmp_path / "train", classes=("a", "b", "c"), n_per_class=10)
    (root / "c" / "009.png").unlink()  # classes of 10, 10, 9: 0.25 holds out round(2.5) = 2, 2 and round(2.25) = 2
    fakedata.write_image_folder(tmp_path / "val", n_per_class=2)  # a sibling val folder: val_fraction, asked for, wins
    dm = data.ImageFolder(str(root), val_fraction=0.25, image_size=8, batch_size=4)
    dm.setup("fit")
    train, test = dm.labelled_dataset("train"), dm.labelled_dataset("test")
    assert (len(train), len(test)) == (23, 6)
    assert set(train.samples).isdisjoint(test.samples) and len(set(train.samples) | set(test.samples)) == 29
    assert test.labels.bincount().tolist() == [2, 2, 2] and dm.dataset("train") is train
    assert sum(len(labels) for _, labels in dm.train_dataloader()) == 20  # 5 batches of 4 from the 23 kept
    assert dm.test_set_description() == f"6 images held out from {root} (val_fraction 0.25, split_seed 0)"
    again = data.ImageFolder(str(root), val_fraction=0.25, image_size=8).labelled_dataset("test")
    assert again.samples == test.samples  # deterministic: the probe sees the split pretraining saw
    reseeded = data.ImageFolder(str(root), val_fraction=0.25, split_seed=1, image_size=8).labelled_dataset("test")
    assert reseeded.samples != test.samples


def test_hidden_folders_are_not_classes_and_official_description(tmp_path):
    root = fakedata.write_image_folder(tmp_path / "train", n_per_class=2)
    (root / ".ipynb_checkpoints").mkdir()
    fakedata.write_pil_image(root / "a" / "._000.png", np.zeros((4, 4), np.uint8))  # a macOS resource fork
    assert data.ImageFolder(str(root), val_fraction=0.5).classes == ["a", "b"]
    assert len(data.ImageFolder(str(root), val_fraction=0.5).train_folder()) == 4
    fm = data.FashionMNIST(str(fakedata.write_fashion_mnist(tmp_path / "fm", n_test=12)))
    assert fm.test_set_description() == f"FashionMNIST test split (12 images) in {tmp_path / 'fm'}"


@pytest.mark.parametrize("n, fraction, held", [(10, 0.1, 1), (10, 0.25, 2), (3, 0.01, 1), (2, 0.9, 1), (40, 0.5, 20)])
def test_stratified_holdout_counts(n, fraction, held):
    labels = torch.arange(3).repeat_interleave(n)[torch.randperm(3 * n, generator=torch.Generator().manual_seed(0))]
    kept, held_out = stratified_holdout(labels, fraction, seed=7)
    assert held_out_count(n, fraction) == held and labels[held_out].bincount().tolist() == [held] * 3
    assert torch.equal(torch.cat([kept, held_out]).sort().values, torch.arange(3 * n))


# --- image formats -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".bmp", ".png", ".jpg"])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_decode_formats(tmp_path, suffix, mode):
    """Decoded pixels are the written ones (JPEG: within its loss, for a smooth image)."""
    y, x = np.mgrid[0:24, 0:32]
    rgb = np.stack([y * 10, x * 7, 255 - y * 5 - x * 2], axis=-1).astype(np.uint8)  # (24, 32, 3)
    array = rgb if mode == "RGB" else rgb[..., 0]
    image = decode_rgb(fakedata.write_pil_image(tmp_path / f"image{suffix}", array, quality=95))
    expected = torch.from_numpy(rgb if mode == "RGB" else np.repeat(array[..., None], 3, axis=-1)).permute(2, 0, 1)
    assert image.dtype == torch.uint8 and image.shape == (3, 24, 32)
    error = (image.int() - expected.int()).abs()
    assert error.max() == 0 if suffix != ".jpg" else error.float().mean() < 2


def test_decode_16_bit_png(tmp_path):
    values = np.array([[0, 128, 129, 257], [32767, 40000, 65534, 65535]], dtype=np.uint16)
    image = decode_rgb(fakedata.write_pil_image(tmp_path / "deep.png", values))
    expected = torch.tensor([[0, 0, 1, 1], [127, 156, 255, 255]], dtype=torch.uint8)  # round(v * 255 / 65535)
    assert image.dtype == torch.uint8 and torch.equal(image, expected.expand(3, 2, 4))


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "the file is empty"), (b"hello", "Unsupported image file"), (b"BM\x00\x01", "cannot identify image file")],
)
def test_undecodable_file_names_it(tmp_path, content, reason):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    one_line_error(lambda: decode_rgb(path), f"cannot decode image {path} ({reason}", "delete or replace the file")


# --- damaged dataset files -----------------------------------------------------------------------


@pytest.mark.slow
def test_truncated_fashion_mnist(monkeypatch, capsys, tiny, tmp_path):
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    path = root / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", "--data.init_args.root", str(root)))
    assert line.startswith(f"simclr: error: cannot read {path}: ")
    assert "apt-get install --reinstall dataset-fashion-mnist" in line
    assert_nothing_written(tmp_path / "run")


@pytest.mark.parametrize("damage", ["truncated", "not gzip", "bad crc", "short plain file"])
def test_damaged_fashion_mnist_file(tmp_path, damage):
    fakedata.write_fashion_mnist(tmp_path, gz=damage != "short plain file")
    path = tmp_path / ("train-labels-idx1-ubyte" + ("" if damage == "short plain file" else ".gz"))
    raw = path.read_bytes()
    damaged = {"truncated": raw[: len(raw) // 2], "not gzip": b"PK\x03\x04" + raw, "short plain file": raw[:-3],
               "bad crc": raw[:-8] + bytes(4) + raw[-4:]}[damage]  # fmt: skip
    path.write_bytes(damaged)
    one_line_error(lambda: read_fashion_mnist(tmp_path, train=True), f"cannot read {path}: ", "re-download it")


class Payload:
    """An object whose pickle, loaded by `pickle.load`, calls `call` = (function, args)."""

    def __init__(self, call):
        self.call = call

    def __reduce__(self):
        return self.call


@pytest.mark.parametrize("runner", ["exec", "os.system"])
def test_crafted_cifar_pickle_runs_no_code(tmp_path, runner):
    root = fakedata.write_cifar10(tmp_path / "cifar", n_train=10, n_test=4)
    marker = tmp_path / "pwned"
    call = (exec, (f"open({str(marker)!r}, 'w').close()",)) if runner == "exec" else (os.system, (f"touch {marker}",))
    path = root / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Payload(call), "labels": [0]}))
    name = "builtins.exec" if runner == "exec" else f"{os.system.__module__}.system"
    expected = f"cannot read {path}: not a CIFAR pickle (it names {name}, which a data file never needs"
    one_line_error(lambda: data.CIFAR10(str(root)).setup("fit"), expected, "cifar.html")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_pickle_protocols_load(tmp_path, protocol):
    images = fakedata.fake_images(6, (3, 32, 32), seed=0)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for split in ("train", "test"):
        labels = [1, 2, 3, 4, 5, np.int64(99)]  # a numpy scalar too
        entry = {"data": images.reshape(6, -1).numpy(), "fine_labels": labels, "filenames": [b"x"] * 6}
        (folder / split).write_bytes(pickle.dumps(entry, protocol=protocol))
    loaded, labels = read_cifar(tmp_path, train=True, classes=100)
    assert torch.equal(loaded, images) and labels.tolist() == [1, 2, 3, 4, 5, 99]


@pytest.mark.parametrize("damage", ["truncated", "not a dict", "wrong row size", "label out of range"])
def test_damaged_cifar_file(tmp_path, damage):
    root = fakedata.write_cifar10(tmp_path, n_train=10, n_test=4)
    path = root / "cifar-10-batches-py" / "test_batch"
    entry = {"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2, 3]}
    if damage == "not a dict":
        entry = [entry]
    elif damage == "wrong row size":
        entry["data"] = np.zeros((4, 1000), np.uint8)
    elif damage == "label out of range":
        entry["labels"] = [0, 1, 2, 10]
    path.write_bytes(pickle.dumps(entry)[: 50 if damage == "truncated" else None])
    one_line_error(lambda: read_cifar(root, train=False), f"cannot read {path}: ", "cifar.html")


@pytest.mark.parametrize("damage", ["images cut off", "empty images", "labels cut off", "label 0"])
def test_damaged_stl10_file(tmp_path, damage):
    folder = fakedata.write_stl10(tmp_path, n_train=3, n_test=2, n_unlabeled=2) / "stl10_binary"
    path = folder / ("train_y.bin" if "label" in damage else "train_X.bin")
    raw = path.read_bytes()
    path.write_bytes(b"\x00" + raw[1:] if damage == "label 0" else b"" if damage == "empty images" else raw[:-1])
    one_line_error(lambda: read_stl10(tmp_path, "train"), f"cannot read {path}: ", "stl10_binary.tar.gz")
