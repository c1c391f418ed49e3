"""One-line errors of `simclr finetune` and `simclr distill` for input no run can use (subset files, seeds, weights,
student encoders), and the report naming the method that pretrained the weights."""

import json
from pathlib import Path

import pytest
import torch
from helpers.cli import run_args, user_error
from helpers.finetune import finetune_args, finetune_tiny

from simclr.data.subsets import LabelSubset, dataset_labels, split_description
from simclr.loading.pretrained import load_datamodule
from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FIX = "pass a subset_*.json written by simclr finetune, or drop --subset to draw one"


@pytest.fixture(scope="module")
def subset_record(trained) -> dict:
    """A valid subset file's content for the tiny checkpoint's data: 30 of the 64 images, 3 of each class."""
    train = load_datamodule(str(trained)).labelled_dataset("train")
    description = split_description("FashionMNIST", len(train), 10)
    subset = LabelSubset.draw(dataset_labels(train), 10, 0.5, 0, description)
    return json.loads(json.dumps(subset.__dict__))


def with_indices(record: dict, indices: list) -> dict:
    return {**record, "indices": indices}


BAD_SUBSETS = {  # name -> (change to the valid record, expected message after "--subset PATH ")
    "repeated": (lambda r: with_indices(r, [r["indices"][0], *r["indices"][:-1]]), "holds the index {first} more than once"),
    "out_of_range": (lambda r: with_indices(r, [64, *r["indices"][1:]]), "holds the index 64, outside 0..63"),
    "negative": (lambda r: with_indices(r, [-1, *r["indices"][1:]]), "holds the index -1, outside 0..63"),
    "boolean": (lambda r: with_indices(r, [True, *r["indices"][1:]]), "holds the index true, not a whole number"),
    "float": (lambda r: with_indices(r, [2.5, *r["indices"][1:]]), "holds the index 2.5, not a whole number"),
    "null": (lambda r: with_indices(r, [None, *r["indices"][1:]]), "holds the index null, not a whole number"),
    "string": (lambda r: with_indices(r, ["3", *r["indices"][1:]]), 'holds the index "3", not a whole number'),
    "empty_list": (lambda r: with_indices(r, []), "holds no indices"),
    "too_few": (lambda r: with_indices(r, r["indices"][:20]),
                "holds 20 indices, but a label_fraction 0.5 subset of 64 images in 10 classes holds 23..32"),
    "negative_fraction": (lambda r: {**r, "label_fraction": -3}, "claims label_fraction -3, outside (0, 1]"),
    "fraction_above_1": (lambda r: {**r, "label_fraction": 2.0}, "claims label_fraction 2.0, outside (0, 1]"),
    "boolean_fraction": (lambda r: {**r, "label_fraction": True}, "has label_fraction true, not a number"),
    "boolean_size": (lambda r: {**r, "train_images": True}, "has train_images true, not a whole number"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_SUBSETS))
def test_a_broken_subset_file_is_refused_in_one_line(monkeypatch, capsys, trained, subset_record, tmp_path, name):
    change, expected = BAD_SUBSETS[name]
    path = tmp_path / "subset.json"
    path.write_text(json.dumps(change(subset_record)))
    line = user_error(monkeypatch, capsys, "finetune", *finetune_args(trained, tmp_path / "out", "--subset", str(path)))
    assert f"--subset {path} {expected.format(first=subset_record['indices'][0])}" in line
    assert line.endswith(FIX)
    assert not list((tmp_path / "out").glob("subset_*.json"))  # refused before anything was written


def test_an_empty_subset_file_and_bad_options_are_refused(monkeypatch, capsys, trained, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    line = user_error(
        monkeypatch, capsys, "finetune", *finetune_args(trained, tmp_path / "out", "--subset", str(empty))
    )
    assert line == f"simclr: error: --subset {empty} is empty; {FIX}"
    for extra, expected in (
        (["--seed", "-1"], "--seed is -1; pass a whole number from 0 to 4294967295"),
        (["--seed", str(2**32)], f"--seed is {2**32}; pass a whole number from 0 to 4294967295"),
        (["--label_fraction", "-3"], "--label_fraction -3.0 is outside (0, 1]"),
        (["--every_n_train_steps", "0"], "--every_n_train_steps is 0; pass a positive number"),
    ):
        line = user_error(monkeypatch, capsys, "finetune", *finetune_args(trained, tmp_path / "out", *extra))
        assert expected in line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_weights_of_absurd_magnitude_are_refused(monkeypatch, capsys, trained, tmp_path):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["state_dict"]["encoder.net.conv1.weight"][0, 0, 0, 0] = 1e29
    huge = tmp_path / "huge.ckpt"
    torch.save(checkpoint, huge)
    line = user_error(monkeypatch, capsys, "finetune", *finetune_args(huge, tmp_path / "out"))
    assert f"checkpoint {huge} holds values beyond 1e6 in encoder.net.conv1.weight" in line


def test_the_record_names_the_method_that_pretrained_the_weights(tiny, trained, tmp_path):
    moco = tmp_path / "moco"
    run_fit(run_args(tiny, moco, "--config", str(CONFIGS / "methods" / "moco_v2.yaml"), "--trainer.max_steps", "1"))
    out = tmp_path / "ft"
    tuned = finetune_tiny(moco / "ckpt" / "last.ckpt", out)
    finetune_tiny(moco / "ckpt" / "last.ckpt", out, "--init", "scratch")
    finetune_tiny(trained, out)
    assert tuned.name == "moco-from_h-0.5-seed0.ckpt"
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["init"], r["recipe"]) for r in records] == [("moco", "probe"), ("moco", "lp-ft"), ("scratch", "scratch"),
                                                          ("simclr", "probe"), ("simclr", "lp-ft")]  # fmt: skip
    assert "| moco | h | 50% | 30 |" in (out / "finetune.md").read_text()


@pytest.fixture(scope="module")
def teacher(trained, tmp_path_factory) -> Path:
    return finetune_tiny(trained, tmp_path_factory.mktemp("teacher"))


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("class_path: torch.nn.Flatten\n", "does not build a student: the encoder Flatten has no feature_dim"),
        ("model:\n  encoder:\n    class_path: torch.nn.Flatten\n", "the encoder Flatten has no feature_dim"),
        ("init_args: {width: 8}\n", "names no encoder"),
    ],
)
def test_a_student_config_without_a_usable_encoder_is_one_line(
    monkeypatch, capsys, teacher, tmp_path, yaml_text, expected
):
    config = tmp_path / "student.yaml"
    config.write_text(yaml_text)
    line = user_error(monkeypatch, capsys, "distill", "--ckpt", str(teacher), "--student_config", str(config),
                      "--out_dir", str(tmp_path / "out"), "--device", "cpu")  # fmt: skip
    assert f"--student_config {config} " in line and expected in line


def test_distill_refuses_a_bad_seed_and_a_teacher_with_a_broken_subset(monkeypatch, capsys, teacher, tmp_path):
    line = user_error(monkeypatch, capsys, "distill", "--ckpt", str(teacher), "--seed", "-1")
    assert "--seed is -1; pass a whole number from 0 to 4294967295" in line
    checkpoint = torch.load(teacher, weights_only=True)
    checkpoint["label_subset"]["indices"][1] = checkpoint["label_subset"]["indices"][0]
    broken = tmp_path / "broken.ckpt"
    torch.save(checkpoint, broken)
    line = user_error(monkeypatch, capsys, "distill", "--ckpt", str(broken), "--out_dir", str(tmp_path / "out"))
    assert f"checkpoint {broken} holds the index {checkpoint['label_subset']['indices'][0]} more than once" in line
    assert line.endswith("pass an intact checkpoint written by `simclr finetune` as --ckpt")
