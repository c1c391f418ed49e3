"""`simclr embed` and `simclr neighbours` on a tiny run: one row per image in a file other tools read, resumable,
unreadable images marked; an image's nearest neighbour is itself, also as a query from outside the folder."""

import csv
import json

import numpy as np
import pytest
import torch
from helpers import fakedata
from helpers.cli import user_error
from torchvision.io import write_png

from simclr.cli.main import run_command
from simclr.data.channels import as_channels
from simclr.embedding import embed as embed_module
from simclr.embedding.neighbours import top_k_cosine
from simclr.errors import UserError
from simclr.loading.handle import load


def write_photos(folder, n=12):
    for i, image in enumerate(fakedata.fake_images(n, (3, 30, 40), seed=4)):
        (folder / f"g{i % 2}").mkdir(parents=True, exist_ok=True)
        write_png(image, str(folder / f"g{i % 2}" / f"{i:02d}.png"))
    return folder


def test_embed_writes_one_row_per_image_and_neighbours_find_themselves(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "emb"
    path = run_command(["embed", "--ckpt", str(trained), "--data", str(photos), "--out_dir", str(out),
                        "--device", "cpu", "--batch_size", "5", "--num_workers", "0"])  # fmt: skip
    rows = np.load(path)
    with open(out / "paths.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert rows.shape == (12, 64) and rows.dtype == np.float32 and np.isfinite(rows).all()
    assert [r["path"] for r in table] == sorted(str(p) for p in photos.rglob("*.png"))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["done"] == meta["count"] == 12 and meta["representation"] == "h" and meta["image_size"] == 28
    model = load(trained)  # row i is h of image i, decoded, framed and made greyscale as the model reads it
    first = embed_module.EmbedFiles([table[3]["path"]], 28)[0][0][None]
    expected = model.embed(as_channels(first, 1))[0]
    torch.testing.assert_close(torch.from_numpy(rows[3]), expected, rtol=1e-4, atol=1e-4)
    capsys.readouterr()
    found = run_command(["neighbours", "--embeddings", str(out), "--index", "5", "--k", "3"])
    assert [n.rank for n in found] == [1, 2, 3] and found[0].index == 5 and found[0].similarity == pytest.approx(1)
    assert "| 1 | 5 | 1.0000 |" in capsys.readouterr().out
    query = run_command(["neighbours", "--embeddings", str(out), "--query", table[7]["path"], "--device", "cpu"])
    assert query[0].index == 7 and len(query) == 10


def test_a_stopped_embed_continues_and_unreadable_images_are_marked(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    photos = write_photos(tmp_path / "photos")
    (photos / "g0" / "zz_broken.png").write_bytes(b"\x89PNG broken")
    args = ["embed", "--ckpt", str(trained), "--data", str(photos), "--out_dir", str(tmp_path / "emb"),
            "--device", "cpu", "--batch_size", "4", "--num_workers", "0"]  # fmt: skip
    line = user_error(monkeypatch, capsys, *args)
    assert "cannot decode image" in line and "zz_broken.png" in line and "--skip_bad_images true" in line
    calls = {"n": 0}
    real = embed_module.EmbedFiles.image

    def stop_after_two_batches(self, index):
        calls["n"] += 1
        if calls["n"] > 8:
            raise KeyboardInterrupt
        return real(self, index)

    monkeypatch.setattr(embed_module.EmbedFiles, "image", stop_after_two_batches)
    monkeypatch.setattr(embed_module, "FLUSH_ROWS", 4)  # flush after every batch of 4
    with pytest.raises(KeyboardInterrupt):
        run_command([*args, "--skip_bad_images", "true"])
    monkeypatch.setattr(embed_module.EmbedFiles, "image", real)
    assert json.loads((tmp_path / "emb" / "meta.json").read_text())["done"] == 8  # two batches kept
    original_fill = embed_module.fill
    monkeypatch.setattr(embed_module, "fill", resumed_from(original_fill, 8))
    run_command([*args, "--skip_bad_images", "true"])
    rows = np.load(tmp_path / "emb" / "embeddings.npy")
    with open(tmp_path / "emb" / "paths.csv", newline="") as f:
        table = list(csv.DictReader(f))
    broken = [i for i, r in enumerate(table) if r["path"].endswith("zz_broken.png")][0]
    assert np.isnan(rows[broken]).all() and table[broken]["readable"] == "0"
    assert np.isfinite(np.delete(rows, broken, axis=0)).all()
    monkeypatch.setattr(embed_module, "fill", original_fill)
    straight = tmp_path / "straight"
    run_command([*args[:6], str(straight), *args[7:], "--skip_bad_images", "true"])
    np.testing.assert_allclose(np.load(straight / "embeddings.npy"), rows, rtol=1e-5, atol=1e-5)  # same as unstopped
    with pytest.raises(UserError, match="could not be decoded when embedded"):
        run_command(["neighbours", "--embeddings", str(tmp_path / "emb"), "--index", str(broken)])


def resumed_from(fill, start):
    """`fill`, asserting the run continues at row `start` (not from the beginning)."""

    def checked(model, dataset, array, meta, *args):
        assert meta.done == start
        return fill(model, dataset, array, meta, *args)

    return checked


def test_top_k_cosine_streams_blocks_exactly():
    rows = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    rows[7] = np.nan
    query = torch.randn(6)
    sims, idx = top_k_cosine(rows, query, k=5, block_rows=8)
    full = torch.nn.functional.normalize(torch.from_numpy(np.nan_to_num(rows, nan=0.0)), dim=1) @ (query / query.norm())
    full[7] = -float("inf")
    expected = full.topk(5)
    torch.testing.assert_close(sims, expected.values)
    assert idx.tolist() == expected.indices.tolist() and 7 not in idx.tolist()
