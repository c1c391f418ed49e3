"""Bad image-caption input through the `simclr` entry point: `simclr fit --config clip_fashion_mnist` with a
missing manifest, a missing image, an empty caption, a missing column, no tokenizer, a tokenizer the text tower
cannot read, no images at all or an output folder under a file stops with one line before anything is written;
the gradient-cache and loss options are checked the same way."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import fakedata
from helpers.cli import user_error

from simclr.captions import write_fashion_mnist_captions

pytestmark = pytest.mark.slow  # runs the CLI

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def caption_set(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("captions")
    fm = fakedata.write_fashion_mnist(tmp / "fmnist")
    return write_fashion_mnist_captions(fm, tmp / "captions", train_images=24, val_images=8)


def copy_set(caption_set: Path, folder: Path) -> Path:
    shutil.copytree(caption_set, folder)
    return folder


def fit_error(monkeypatch, capsys, tmp_path: Path, manifest: Path, *extra: str) -> str:
    runs = tmp_path / "runs"
    line = user_error(monkeypatch, capsys, "fit", "--config", str(CONFIGS / "clip_fashion_mnist.yaml"),
                      "--data.init_args.manifest", str(manifest), "--data.init_args.val_manifest",
                      str(manifest.parent / "val.jsonl"), "--data.init_args.num_workers", "0",
                      "--data.init_args.batch_size", "4", "--trainer.max_steps", "1",
                      "--trainer.logger.init_args.save_dir", str(runs), "--trainer.default_root_dir", str(runs),
                      *extra)  # fmt: skip
    written = [p for p in runs.rglob("*") if p.is_file()] if runs.exists() else []
    assert not written, written  # nothing written before the error
    return line


def rewrite_first_line(manifest: Path, change) -> None:
    lines = manifest.read_text().splitlines()
    lines[0] = json.dumps(change(json.loads(lines[0])))
    manifest.write_text("\n".join(lines) + "\n")


def test_a_missing_manifest(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    line = fit_error(monkeypatch, capsys, tmp_path, data / "nothing.jsonl")
    assert "nothing.jsonl" in line


def test_a_missing_image_names_its_line(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    first = json.loads((data / "train.jsonl").read_text().splitlines()[0])
    (data / first["image"]).unlink()
    line = fit_error(monkeypatch, capsys, tmp_path, data / "train.jsonl")
    assert "line 1" in line and "does not exist" in line


def test_an_empty_caption_names_its_line(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    rewrite_first_line(data / "train.jsonl", lambda row: {**row, "caption": ["   "]})
    line = fit_error(monkeypatch, capsys, tmp_path, data / "train.jsonl")
    assert "line 1" in line and "empty" in line


def test_a_missing_column(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    line = fit_error(monkeypatch, capsys, tmp_path, data / "train.jsonl", "--data.init_args.caption_column", "text")
    assert "text" in line


def test_no_tokenizer_says_how_to_make_one(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    (data / "tokenizer.json").unlink()
    line = fit_error(monkeypatch, capsys, tmp_path, data / "train.jsonl")
    assert "tokenizer.json" in line and "simclr tokenizer" in line


def test_a_tokenizer_larger_than_the_text_tower(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    line = fit_error(monkeypatch, capsys, tmp_path, data / "train.jsonl",
                     "--model.init_args.text_encoder.init_args.vocab_size", "8")  # fmt: skip
    assert "vocab" in line


def test_a_manifest_without_images(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    (data / "train.jsonl").write_text("")
    line = fit_error(monkeypatch, capsys, tmp_path, data / "train.jsonl")
    assert "train.jsonl" in line


def test_an_output_folder_under_a_file(caption_set, tmp_path, monkeypatch, capsys):
    data = copy_set(caption_set, tmp_path / "set")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    line = user_error(monkeypatch, capsys, "fit", "--config", str(CONFIGS / "clip_fashion_mnist.yaml"),
                      "--data.init_args.manifest", str(data / "train.jsonl"), "--data.init_args.val_manifest",
                      str(data / "val.jsonl"), "--data.init_args.num_workers", "0", "--data.init_args.batch_size", "4",
                      "--trainer.logger.init_args.save_dir", str(blocker / "runs"),
                      "--trainer.default_root_dir", str(blocker / "runs"))  # fmt: skip
    assert "a_file" in line
    assert blocker.read_text() == "x"


def test_anchor_chunk_zero_is_one_line(tmp_path, monkeypatch, capsys):
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    line = user_error(monkeypatch, capsys, "fit", "--config", str(CONFIGS / "fashion_mnist.yaml"),
                      "--data.init_args.root", str(root), "--model.loss.init_args.anchor_chunk", "0",
                      "--trainer.default_root_dir", str(tmp_path / "runs"))  # fmt: skip
    assert "anchor_chunk is 0" in line
