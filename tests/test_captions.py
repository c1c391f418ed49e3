"""Caption manifests (CSV, TSV, JSON lines) with several captions per image, the seeded hold-out, the per-step
caption draw, the batches and the one-line errors of the manifest data module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers.captions import WORDS, one_line, tokenizer, write_images

from simclr.captions import CaptionManifest
from simclr.captions.dataset import CaptionImages
from simclr.captions.manifest import hold_out, read_manifest
from simclr.captions.sampler import CaptionSampler, Draw
from simclr.errors import UserError

# --- manifests -------------------------------------------------------------------------------------------------


def test_csv_tsv_and_jsonl_group_several_captions_per_image(tmp_path):
    write_images(tmp_path / "img", ["a.png", "b.png"])
    absolute = str(tmp_path / "img" / "b.png")
    (tmp_path / "m.csv").write_text(f'image,caption,source\nimg/a.png,a red dress,web\n{absolute},"a boot, dark",x\n'
                                    f"img/a.png,the dress,web\n")  # fmt: skip
    (tmp_path / "m.tsv").write_text(f"caption\timage\na red dress\timg/a.png\na boot, dark\t{absolute}\n"
                                    f"the dress\timg/a.png\n")  # fmt: skip
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"image": "img/a.png", "caption": ["a red dress", "the dress"]})
        + "\n\n"
        + json.dumps({"image": absolute, "caption": "a boot, dark", "label": 3})
        + "\n"
    )
    for name in ("m.csv", "m.tsv", "m.jsonl"):
        listed = read_manifest(tmp_path / name)
        assert listed.paths == [str(tmp_path / "img" / "a.png"), absolute], name
        assert listed.captions == [["a red dress", "the dress"], ["a boot, dark"]], name
    assert read_manifest(tmp_path / "m.csv").lines == [2, 3]
    assert read_manifest(tmp_path / "m.jsonl").lines == [1, 3]
    (tmp_path / "cols.csv").write_text("file,text\nimg/a.png,a dress\n")
    assert read_manifest(tmp_path / "cols.csv", "file", "text").captions == [["a dress"]]


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("m.csv", "image,text\na.png,a dress\n", "the manifest .*m.csv has no 'caption' .*caption_column"),
        ("m.csv", "image,caption\na.png,a dress\nb.png,  \n", "line 3 of .*m.csv has an empty caption"),
        ("m.tsv", "image\tcaption\n\ta dress\n", "line 2 of .*m.tsv has no image path"),
        ("m.jsonl", '{"image": "a.png", "caption": "x"}\n{"path": "b.png", "caption": "y"}\n',
         "line 2 of .*m.jsonl has no 'image' .*image_column"),
        ("m.jsonl", '{"image": "a.png", "caption": ["x", ""]}\n', "line 1 of .*m.jsonl has an empty caption"),
        ("m.jsonl", '{"image": "a.png", "caption": []}\n', "line 1 of .*m.jsonl: 'caption' must be"),
        ("m.jsonl", '{"image": "a.png"\n', "line 1 of .*m.jsonl is not JSON"),
        ("m.txt", "a.png\n", "m.txt is not .csv, .tsv or .jsonl"),
        ("m.csv", "image,caption\n", "lists no images"),
    ],
)  # fmt: skip
def test_manifest_mistakes_are_one_line_errors_naming_the_line(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError, match=expected) as e:
        read_manifest(tmp_path / name)
    one_line(e)


def test_a_manifest_that_is_not_utf8_or_missing_is_one_line(tmp_path):
    (tmp_path / "m.csv").write_bytes(b"image,caption\na.png,caf\xe9\n")
    with pytest.raises(UserError, match="m.csv is not UTF-8"):
        read_manifest(tmp_path / "m.csv")
    with pytest.raises(UserError, match="nope.csv does not exist"):
        read_manifest(tmp_path / "nope.csv")


def test_the_seeded_hold_out_is_reproducible_and_disjoint():
    kept, held = hold_out(100, 0.1, seed=3)
    assert len(held) == 10 and sorted(kept + held) == list(range(100)) and not set(kept) & set(held)
    assert hold_out(100, 0.1, seed=3) == (kept, held) and hold_out(100, 0.1, seed=4)[1] != held
    assert len(hold_out(10, 0.01, 0)[1]) == 2  # at least two validation images
    with pytest.raises(UserError, match="3 images, too few"):
        hold_out(3, 0.5, 0)


# --- the manifest data module ----------------------------------------------------------------------------------


def write_pairs(folder: Path, n: int = 12, per_image: int = 3) -> Path:
    """n images with `per_image` distinct captions each (image k: `k dress`, `k boot`, ...) and pairs.csv."""
    names = [f"{k:02d}.png" for k in range(n)]
    write_images(folder / "photos", names)
    rows = [f"photos/{name},{WORDS[k % 5]} {noun} {k}" for k, name in enumerate(names)
            for noun in ("dress", "boot", "coat", "shirt")[:per_image]]  # fmt: skip
    (folder / "pairs.csv").write_text("image,caption\n" + "\n".join(rows) + "\n")
    return folder / "pairs.csv"


def module(manifest: Path, tokenizer_file: Path, **options) -> CaptionManifest:
    settings = dict(tokenizer=str(tokenizer_file), context_length=10, image_size=16, batch_size=4) | options
    return CaptionManifest(str(manifest), **settings)


def test_batches_are_uint8_images_and_int64_token_rows(tmp_path, tokenizer_file):
    dm = module(write_pairs(tmp_path), tokenizer_file, val_fraction=0.25)
    dm.prepare_data()
    images, tokens = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (4, 3, 16, 16)
    assert tokens.dtype == torch.int64 and tokens.shape == (4, 10)
    assert (tokens[:, 0] == dm.tokenizer.sot_id).all() and ((tokens == dm.tokenizer.eot_id).sum(1) == 1).all()
    images, tokens = next(iter(dm.val_dataloader()))
    assert images.shape == (3, 3, 16, 16) and tokens.shape == (3, 10)  # 3 of the 12 images held out
    grey = module(tmp_path / "pairs.csv", tokenizer_file, channels=1, val_fraction=0.25)
    grey.setup("fit")
    assert next(iter(grey.train_dataloader()))[0].shape == (4, 1, 16, 16)
    assert grey.channels == 1 and grey.image_size == 16 and grey.hparams["manifest"] == str(tmp_path / "pairs.csv")
    assert "root" not in grey.hparams and CaptionManifest(**grey.hparams).manifest == grey.manifest


def test_held_out_images_never_reach_training_with_any_caption(tmp_path, tokenizer_file):
    dm = module(write_pairs(tmp_path, n=20), tokenizer_file, val_fraction=0.2, split_seed=5)
    train, val = dm.parts()
    assert len(val) == 4 and len(train) == 16 and not set(train.paths) & set(val.paths)
    assert not {c for cs in train.captions for c in cs} & {c for cs in val.captions for c in cs}
    again = module(tmp_path / "pairs.csv", tokenizer_file, val_fraction=0.2, split_seed=5).parts()[1]
    assert again.paths == val.paths


def test_one_caption_a_step_drawn_per_seed_epoch_and_image(tmp_path, tokenizer_file):
    dm = module(write_pairs(tmp_path, n=12, per_image=4), tokenizer_file, val_fraction=0.25)
    dm.setup("fit")
    train = dm.dataset("train")
    drawn = {e: [train.caption(Draw(i, 7, e)) for i in range(len(train))] for e in range(4)}
    assert drawn[0] == [train.caption(Draw(i, 7, 0)) for i in range(len(train))]  # reproducible
    assert len({tuple(d) for d in drawn.values()}) > 1  # epochs draw different captions
    assert all(c in train.captions[i] for d in drawn.values() for i, c in enumerate(d))
    assert drawn[0] != [train.caption(Draw(i, 8, 0)) for i in range(len(train))]  # another seed, other draws
    assert [train.caption(i) for i in range(len(train))] == [cs[0] for cs in train.captions]  # validation: first

    def epoch_tokens(epoch: int) -> torch.Tensor:
        loader = dm.train_dataloader()
        assert isinstance(loader.sampler, CaptionSampler)
        loader.sampler.set_epoch(epoch)
        return torch.cat([tokens for _, tokens in loader])

    torch.manual_seed(11)
    first = epoch_tokens(0)
    torch.manual_seed(11)
    assert torch.equal(epoch_tokens(0), first)
    assert not torch.equal(epoch_tokens(1), first)


def test_a_run_resumed_mid_epoch_draws_the_same_captions(tmp_path, tokenizer_file):
    dm = module(write_pairs(tmp_path, n=16, per_image=4), tokenizer_file, val_fraction=0.25, batch_size=3)
    dm.setup("fit")
    torch.manual_seed(2)
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(3)
    batches = iter(loader)
    next(batches)
    state = loader.state_dict()
    rest = torch.cat([tokens for _, tokens in batches])
    torch.manual_seed(99)  # a new process: another seed until the state is loaded
    resumed = dm.train_dataloader()
    resumed.load_state_dict(state)
    assert torch.equal(torch.cat([tokens for _, tokens in resumed]), rest)


@pytest.mark.slow
def test_worker_processes_draw_the_same_captions(tmp_path, tokenizer_file):
    manifest = write_pairs(tmp_path, n=12, per_image=4)
    batches = {}
    for workers in (0, 1):
        dm = module(manifest, tokenizer_file, val_fraction=0.25, num_workers=workers)
        dm.setup("fit")
        torch.manual_seed(5)
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(2)
        batches[workers] = torch.cat([tokens for _, tokens in loader])
        if workers:  # stop the persistent worker now: left to the garbage collector, its shutdown waits 5 s
            loader._iterator._shutdown_workers()
    assert torch.equal(batches[0], batches[1])


def test_a_val_manifest_validates_and_may_not_share_images(tmp_path, tokenizer_file):
    train = write_pairs(tmp_path / "train", n=6)
    val = write_pairs(tmp_path / "val", n=3)
    dm = module(train, tokenizer_file, val_manifest=str(val))
    dm.setup()
    assert len(dm.dataset("train")) == 6 and len(dm.dataset("val")) == 3
    with pytest.raises(UserError, match="are also in the manifest"):
        module(train, tokenizer_file, val_manifest=str(train)).setup()
    with pytest.raises(UserError, match="val_manifest and val_fraction both"):
        module(train, tokenizer_file, val_manifest=str(val), val_fraction=0.1)


def test_data_mistakes_stop_at_setup_in_one_line(tmp_path, tokenizer_file):
    manifest = write_pairs(tmp_path, n=6)
    (tmp_path / "photos" / "03.png").unlink()
    dm = module(manifest, tokenizer_file, val_fraction=0.34)  # construction reads nothing
    with pytest.raises(UserError) as e:
        dm.prepare_data()
    missing = tmp_path / "photos" / "03.png"
    assert f"line 11 of {manifest} names the image {missing}, which does not exist" in one_line(e)
    no_tokenizer = CaptionManifest(str(manifest), val_fraction=0.34)
    with pytest.raises(UserError) as e:
        no_tokenizer.setup()
    assert f"{tmp_path / 'tokenizer.json'} does not exist" in one_line(e) and "simclr tokenizer" in str(e.value)
    with pytest.raises(UserError, match="not class labels") as e:
        dm.labelled_dataset("train")
    one_line(e)
    for options, message in (({"context_length": 2}, "context_length is 2"), ({"channels": 2}, "channels is 2"),
                             ({"device_resident": True}, "device_resident"), ({"val_fraction": 1.5}, "val_fraction")):  # fmt: skip
        with pytest.raises(UserError, match=message):
            module(manifest, tokenizer_file, **options)


def test_a_corrupt_image_names_its_file(tmp_path, tokenizer_file):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    dataset = CaptionImages([str(tmp_path / "bad.png")], [["a dress"]], tokenizer(tokenizer_file), 16)
    with pytest.raises(UserError, match="cannot decode image .*bad.png") as e:
        dataset[0]
    one_line(e)
