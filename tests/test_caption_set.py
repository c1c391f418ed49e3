"""The Fashion-MNIST caption set and the `simclr captions` / `simclr tokenizer` commands."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import fakedata
from helpers.cli import user_error

from simclr.captions import CaptionManifest, CaptionTokenizer, train_tokenizer, write_fashion_mnist_captions
from simclr.captions.templates import CLASS_NAMES, PROMPTS, TEMPLATES
from simclr.cli.main import run_command
from simclr.errors import UserError

# --- the Fashion-MNIST caption set -----------------------------------------------------------------------------


def test_the_fashion_mnist_caption_set(tmp_path):
    fm = fakedata.write_fashion_mnist(tmp_path / "fm", n_train=80, n_test=8)
    out = write_fashion_mnist_captions(fm, tmp_path / "caps", train_images=50, val_images=20, captions_per_image=5)
    rows = {s: [json.loads(line) for line in (out / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "val")}
    assert len(rows["train"]) == 50 and len(rows["val"]) == 20
    for row in rows["train"] + rows["val"]:
        assert len(set(row["caption"])) == 5 and (out / row["image"]).is_file()
        assert row["class"] == CLASS_NAMES[row["label"]]
    assert not {r["image"] for r in rows["train"]} & {r["image"] for r in rows["val"]}
    assert (out / "classes.txt").read_text().splitlines() == list(CLASS_NAMES)
    prompts = (out / "prompts.txt").read_text().splitlines()
    assert prompts == list(PROMPTS) and all("{}" in p for p in prompts)
    assert not set(prompts) & set(TEMPLATES)  # zero-shot prompts are none of the caption templates
    captions = {c for s in rows.values() for r in s for c in r["caption"]}
    assert not {p.format(name) for p in prompts for name in CLASS_NAMES} & captions
    assert len(captions) > 300  # varied: most of the 350 captions differ
    train_only = train_tokenizer([c for r in rows["train"] for c in r["caption"]], tmp_path / "t.json")
    assert CaptionTokenizer.from_file(out / "tokenizer.json").to_json() == train_only.to_json()
    readme = " ".join((out / "README.md").read_text().split())
    assert "the first 50 images" in readme and "its last 20 images" in readme and "5 captions" in readme
    with pytest.raises(UserError, match="already holds a caption set"):
        write_fashion_mnist_captions(fm, out, train_images=50, val_images=20)
    dm = CaptionManifest(str(out / "train.jsonl"), val_manifest=str(out / "val.jsonl"), image_size=28, channels=1,
                         batch_size=8)  # fmt: skip
    dm.prepare_data()
    images, tokens = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 1, 28, 28) and images.dtype == torch.uint8 and tokens.shape == (8, 32)
    with pytest.raises(UserError, match="exceed the 80 images"):
        write_fashion_mnist_captions(fm, tmp_path / "big", train_images=70, val_images=20)


# --- commands --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_captions_and_tokenizer_commands(tmp_path, capsys):
    fm = fakedata.write_fashion_mnist(tmp_path / "fm", n_train=80, n_test=8)
    out = run_command(["captions", "--out_dir", str(tmp_path / "caps"), "--fm_root", str(fm), "--train_images", "50",
                       "--val_images", "20", "--captions_per_image", "3"])  # fmt: skip
    assert out == tmp_path / "caps" and (out / "tokenizer.json").is_file()
    assert "wrote 50 training and 20 validation images" in capsys.readouterr().out
    written = run_command(["tokenizer", "--manifest", str(out / "train.jsonl"), "--out", str(tmp_path / "t.json"),
                           "--vocab_size", "300"])  # fmt: skip
    assert written == tmp_path / "t.json" and CaptionTokenizer.from_file(written).vocab_size <= 300
    assert "on the 150 captions" in capsys.readouterr().out
    with pytest.raises(UserError, match="exists; pass --overwrite true"):
        run_command(["tokenizer", "--manifest", str(out / "train.jsonl"), "--out", str(tmp_path / "t.json")])


@pytest.mark.slow
def test_a_command_mistake_is_one_line(tmp_path, monkeypatch, capsys):
    line = user_error(monkeypatch, capsys, "tokenizer", "--manifest", str(tmp_path / "nope.csv"))
    assert "nope.csv does not exist" in line
