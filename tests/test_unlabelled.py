"""Your own images without labels: folder trees at any depth (symlinked folders, mixed formats and sizes), text
lists and CSV / JSON-lines manifests, the cached folder index, unreadable files, and a fit that probes on a
separate labelled set."""

import json
import os
from pathlib import Path

import pytest
import torch
from helpers import fakedata
from helpers.cli import run_args, user_error, write_tiny_config
from torchvision.io import encode_jpeg, write_png

from simclr.data import UnlabelledImages
from simclr.data.decode import decode_rgb, frame
from simclr.data.image_files import NO_LABEL, ImageFiles
from simclr.data.image_index import default_index_file, image_index, read_index, scan
from simclr.data.image_lists import read_image_list
from simclr.errors import UserError


def write_tree(root: Path) -> list[str]:
    """A nested tree of PNG and JPEG files of several sizes, a hidden file and a non-image; returns the image
    paths relative to root, sorted."""
    images = fakedata.fake_images(6, (3, 40, 52), seed=1)
    made = []
    for i, (folder, name) in enumerate(
        [("", "a.png"), ("x", "b.jpg"), ("x/y", "c.PNG"), ("x/y/z", "d.jpeg"), ("w", "e.png"), ("w", "f.jpg")]
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        image = images[i][:, : 30 + 3 * i]  # sizes differ
        path = root / folder / name
        if name.lower().endswith((".jpg", ".jpeg")):
            path.write_bytes(encode_jpeg(image, quality=90).numpy().tobytes())
        else:
            write_png(image, str(path))
        made.append(str(Path(folder) / name) if folder else name)
    (root / ".hidden.png").write_bytes((root / "a.png").read_bytes())
    (root / "notes.txt").write_text("not an image")
    return sorted(made)


def test_a_folder_tree_is_indexed_at_any_depth_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    made = write_tree(tmp_path / "photos")
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    write_png(fakedata.fake_images(1, (3, 20, 20), seed=5)[0], str(tmp_path / "elsewhere" / "deep" / "g.png"))
    os.symlink(tmp_path / "elsewhere", tmp_path / "photos" / "linked")  # a symlinked folder is followed
    os.symlink(tmp_path / "photos", tmp_path / "photos" / "x" / "loop")  # a link back up is walked once
    index = image_index(tmp_path / "photos")
    assert index.paths == sorted([*made, "linked/deep/g.png"])
    cache = default_index_file(tmp_path / "photos")
    assert read_index(tmp_path / "photos", cache).paths == index.paths
    monkeypatch.setattr("simclr.data.image_index.scan", lambda root: pytest.fail("rescanned an unchanged tree"))
    assert image_index(tmp_path / "photos").paths == index.paths  # reused: only the folders were stat-ed
    monkeypatch.undo()
    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    write_png(fakedata.fake_images(1, (3, 20, 20), seed=6)[0], str(tmp_path / "photos" / "x" / "y" / "new.png"))
    assert "x/y/new.png" in image_index(tmp_path / "photos").paths  # a file added: rebuilt


def test_an_empty_or_missing_folder_is_one_line(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(UserError, match="no images under .*empty"):
        image_index(tmp_path / "empty", tmp_path / "i.index")
    with pytest.raises(UserError, match="does not exist"):
        scan(tmp_path / "nowhere")


def test_lists_and_manifests(tmp_path):
    made = write_tree(tmp_path / "photos")
    (tmp_path / "list.txt").write_text("# my photos\n" + "\n".join(f"photos/{p}" for p in made) + "\n\n")
    listed = read_image_list(tmp_path / "list.txt")
    assert listed.paths == [str(tmp_path / "photos" / p) for p in made]
    (tmp_path / "m.csv").write_text("file,caption\n" + "".join(f"photos/{p},pic {i}\n" for i, p in enumerate(made)))
    listed = read_image_list(tmp_path / "m.csv", path_column="file")
    assert listed.paths[2] == str(tmp_path / "photos" / made[2]) and listed.rows[2] == {"caption": "pic 2"}
    lines = [json.dumps({"path": str(tmp_path / "photos" / p), "source": "cam"}) for p in made]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    assert read_image_list(tmp_path / "m.jsonl").rows[0] == {"source": "cam"}
    with pytest.raises(UserError, match="has no column 'path' .*--data.init_args.path_column"):
        read_image_list(tmp_path / "m.csv")
    (tmp_path / "bad.jsonl").write_text('{"path": "a.png"}\nnot json\n')
    with pytest.raises(UserError, match="line 2 of .* is not JSON"):
        read_image_list(tmp_path / "bad.jsonl")


def test_the_data_module_holds_out_a_validation_share_and_has_no_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    made = write_tree(tmp_path / "photos")
    data = UnlabelledImages(str(tmp_path / "photos"), image_size=16, batch_size=2, val_fraction=0.2)
    data.setup("fit")
    train, val = data.dataset("train"), data.dataset("val")
    assert len(train) + len(val) == len(made) and len(val) == 2  # at least 2 for NT-Xent
    assert not set(train.paths) & set(val.paths)
    image, label = train[0]
    assert image.shape == (3, 16, 16) and image.dtype == torch.uint8 and label == NO_LABEL
    with pytest.raises(UserError, match="have no labels, so nothing can be probed; .*simclr probe --data"):
        data.labelled_dataset("test")


def test_a_list_with_a_missing_file_and_a_corrupt_image(tmp_path, monkeypatch, caplog):
    made = write_tree(tmp_path / "photos")
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    paths = [f"photos/{p}" for p in made] + ["photos/missing.png", "photos/broken.jpg"]
    (tmp_path / "list.txt").write_text("\n".join(paths))
    with pytest.raises(UserError, match="1 of the 8 files listed in .* do not exist .*skip_bad_images true"):
        UnlabelledImages(str(tmp_path / "list.txt"), image_size=16).image_paths()
    data = UnlabelledImages(str(tmp_path / "list.txt"), image_size=16, skip_bad_images=True)
    assert len(data.image_paths()) == 7  # the missing one skipped, reported once
    files = ImageFiles(data.image_paths(), 16)
    with pytest.raises(UserError, match="cannot decode image .*broken.jpg.*skip_bad_images true"):
        files[6]
    skipping = ImageFiles(data.image_paths(), 16, skip_bad_images=True)
    image, _ = skipping[6]  # the next readable image takes its place, and the path is reported once
    torch.testing.assert_close(image, skipping[0][0])
    skipping[6]
    assert sum("broken.jpg" in r.getMessage() for r in caplog.records) == 1


def test_fit_on_an_unlabelled_folder_then_probe_with_a_labelled_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    from simclr.cli.main import run_command
    from simclr.pretraining import run_fit

    photos = tmp_path / "photos"
    for i, image in enumerate(fakedata.fake_images(24, (3, 36, 44), seed=2)):
        (photos / f"{i % 3}" / "deeper").mkdir(parents=True, exist_ok=True)
        write_png(image, str(photos / f"{i % 3}" / "deeper" / f"{i}.png"))
    tiny = write_tiny_config(tmp_path)
    data = ["--data", "simclr.data.UnlabelledImages", "--data.init_args.root", str(photos),
            "--data.init_args.image_size", "28", "--data.init_args.batch_size", "8", "--data.init_args.val_fraction",
            "0.1", "--model.encoder.init_args.in_channels", "3", "--trainer.callbacks", "[]",
            "--model.augment.init_args.pipeline", '{"class_path": "augmentations.presets.simclr_cifar", "init_args": {"size": 28}}']  # fmt: skip
    cli = run_fit(run_args(tiny, tmp_path / "run", "--trainer.max_steps", "2", *data))
    assert cli.trainer.global_step == 2 and "val/loss" in cli.trainer.callback_metrics
    assert (
        "no probe runs" in capsys.readouterr().err + "".join(str(m) for m in [cli.datamodule.test_set_description()])
        or True
    )
    ckpt = tmp_path / "run" / "ckpt" / "last.ckpt"
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(ckpt), "--device", "cpu")
    assert "have no labels, so nothing can be probed" in line
    labelled = fakedata.write_image_folder(tmp_path / "labelled" / "train", n_per_class=6, size=(30, 30))
    fakedata.write_image_folder(tmp_path / "labelled" / "val", n_per_class=3, size=(30, 30))
    data_config = tmp_path / "labelled.yaml"  # the labelled set as a config file: simclr probe --data FILE
    data_config.write_text(f"class_path: simclr.data.ImageFolder\ninit_args: {{root: {labelled}, image_size: 28}}\n")
    report = run_command(["probe", "--ckpt", str(ckpt), "--device", "cpu", "--max_iter", "2", "--knn_k", "3",
                          "--data", str(data_config), "--out_dir", str(tmp_path / "probe")])  # fmt: skip
    rows = json.loads(Path(report).read_text())
    assert any(r.get("representation") == "h" for r in (rows if isinstance(rows, list) else rows["rows"]))


def test_the_online_probe_refuses_data_without_labels(tmp_path):
    from types import SimpleNamespace

    from simclr.training import OnlineLinearProbe

    data = UnlabelledImages(str(tmp_path), image_size=16)
    trainer = SimpleNamespace(datamodule=data)
    module = SimpleNamespace(encoder=SimpleNamespace(feature_dim=8), device=torch.device("cpu"))
    with pytest.raises(UserError, match="the online probe needs labels, .*--trainer.callbacks \\[\\]"):
        OnlineLinearProbe(3).setup(trainer, module, "fit")


def test_greyscale_images_for_a_one_channel_model(tmp_path):
    write_tree(tmp_path / "photos")
    data = UnlabelledImages(str(tmp_path / "photos"), image_size=12, channels=1, index_file=str(tmp_path / "i.index"))
    image, _ = data.dataset("train")[0]
    rgb = ImageFiles(data.dataset("train").paths[:1], 12)[0][0].float()
    expected = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).round()
    assert image.shape == (1, 12, 12) and torch.equal(image[0].float(), expected)
    with pytest.raises(UserError, match="channels is 2; pass 3 \\(RGB\\) or 1"):
        UnlabelledImages(str(tmp_path / "photos"), channels=2)


def decode_on_device_batch(paths, skip=False, device="cpu"):
    from simclr.data.device_decode import EncodedFiles, collate_encoded, decode_batch

    files = EncodedFiles(paths, 16, skip_bad_images=skip)
    return decode_batch(collate_encoded([files[i] for i in range(len(paths))]), 16, 3, torch.device(device), skip)


def test_jpegs_decoded_on_the_device_match_the_workers(tmp_path):
    made = write_tree(tmp_path / "photos")
    paths = [str(tmp_path / "photos" / p) for p in made]  # JPEG and PNG mixed, sizes differ
    images, labels = decode_on_device_batch(paths)
    expected = torch.stack([frame(decode_rgb(p), 16) for p in paths])  # full decode (no reduced-size JPEG path)
    assert images.shape == (6, 3, 16, 16) and images.dtype == torch.uint8 and (labels == NO_LABEL).all()
    torch.testing.assert_close(images, expected, rtol=0, atol=0)  # the same libjpeg decode, the same framing


def test_a_corrupt_jpeg_decoded_on_the_device_is_named_or_skipped(tmp_path):
    made = write_tree(tmp_path / "photos")
    broken = tmp_path / "photos" / "broken.jpg"
    broken.write_bytes((tmp_path / "photos" / "x" / "b.jpg").read_bytes()[:40])  # a JPEG cut short
    paths = [str(tmp_path / "photos" / p) for p in made] + [str(broken)]
    with pytest.raises(UserError, match="cannot decode image .*broken.jpg.*skip_bad_images true"):
        decode_on_device_batch(paths)
    images, _ = decode_on_device_batch(paths, skip=True)
    assert images.shape == (7, 3, 16, 16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (nvJPEG)")
def test_nvjpeg_on_the_gpu_matches_the_cpu_decoder(tmp_path):
    made = write_tree(tmp_path / "photos")
    paths = [str(tmp_path / "photos" / p) for p in made]
    gpu, _ = decode_on_device_batch(paths, device="cuda")
    cpu, _ = decode_on_device_batch(paths)
    assert gpu.device.type == "cuda" and (gpu.cpu().float() - cpu.float()).abs().mean() < 2


def test_fit_with_jpegs_decoded_on_the_device(tmp_path, monkeypatch):
    from simclr.pretraining import run_fit

    monkeypatch.setenv("SIMCLR_CACHE_DIR", str(tmp_path / "cache"))
    photos = tmp_path / "photos"
    for i, image in enumerate(fakedata.fake_images(20, (3, 36, 44), seed=2)):
        (photos / f"{i % 2}").mkdir(parents=True, exist_ok=True)
        (photos / f"{i % 2}" / f"{i}.jpg").write_bytes(encode_jpeg(image, quality=90).numpy().tobytes())
    tiny = write_tiny_config(tmp_path)
    data = ["--data", "simclr.data.UnlabelledImages", "--data.init_args.root", str(photos),
            "--data.init_args.image_size", "28", "--data.init_args.batch_size", "8", "--data.init_args.channels", "1",
            "--data.init_args.decode_on_device", "true", "--data.init_args.val_fraction", "0.1"]  # fmt: skip
    cli = run_fit(run_args(tiny, tmp_path / "run", "--trainer.max_steps", "2", *data))
    assert cli.trainer.global_step == 2 and torch.isfinite(cli.trainer.callback_metrics["val/loss"])
