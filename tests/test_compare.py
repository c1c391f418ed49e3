"""Augmentation comparison: strategies from YAML and Python, the runner on tiny fake data, the CLI."""

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from helpers import fakedata
from tensorboard.backend.event_processing.event_accumulator import IMAGES, TENSORS, EventAccumulator

from augmentations import (
    MultiView,
    OneSidedViews,
    RandomColorJitter,
    RandomGaussianNoise,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRot90,
    presets,
)
from simclr.ablation.budget import Budget
from simclr.ablation.fit_configs import split_fit_args
from simclr.ablation.results import UNTRAINED, CompareRow, format_rows, read_rows, summary, write_rows
from simclr.ablation.run_data import read_run_data
from simclr.ablation.runner import compare_strategies
from simclr.ablation.strategies import (
    Strategy,
    compositions,
    load_strategies,
    ordered_pairs,
    restrict,
    singles,
    strength_sweep,
)
from simclr.data.datamodules import FashionMNIST
from simclr.methods.simclr import SimCLR
from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BLOCKS = {"a": [RandomRot90()], "b": [RandomGaussianNoise(p=1.0)], "c": [RandomHorizontalFlip()]}


def test_pairs_yaml_gives_singles_then_ordered_pairs():
    strategies = load_strategies(CONFIGS / "strategies" / "pairs_fashion_mnist.yaml")
    blocks = ["crop", "cutout", "color", "blur", "noise", "rotate", "sobel"]
    assert len(strategies) == 7 + 7 * 6
    assert [s.name for s in strategies[:7]] == blocks
    assert [s.parts for s in strategies[7:]] == [(a, b) for a in blocks for b in blocks if a != b]  # row-major
    crop_color = next(s for s in strategies if s.name == "crop+color")
    assert [type(m) for m in crop_color.transforms] == [RandomResizedCrop, RandomHorizontalFlip, RandomColorJitter]
    assert crop_color.transforms[0].scale == (0.2, 1.0) and crop_color.transforms[2].brightness == 0.4
    kept = restrict(strategies, ["color", "crop"])
    assert [s.name for s in kept] == ["crop", "color", "crop+color", "color+crop"]
    color_crop = next(s for s in strategies if s.name == "color+crop")
    assert [type(m) for m in color_crop.transforms] == [RandomColorJitter, RandomResizedCrop, RandomHorizontalFlip]


def test_other_strategy_files_parse():
    presets_yaml = {s.name: s for s in load_strategies(CONFIGS / "strategies" / "presets_fashion_mnist.yaml")}
    assert list(presets_yaml) == ["crop+color+blur", "crop only", "simclr_fashion_mnist", "crop (0.08, 1)"]
    expected = presets.simclr_fashion_mnist(28).transforms
    assert [type(m) for m in presets_yaml["simclr_fashion_mnist"].transforms] == [type(m) for m in expected]
    assert presets_yaml["crop (0.08, 1)"].transforms[0].scale == (0.08, 1.0)
    sweep = load_strategies(CONFIGS / "strategies" / "color_strength_fashion_mnist.yaml")
    assert [s.transforms[-1].brightness for s in sweep] == [0.1, 0.2, 0.4, 0.8]


def test_generators_count_order_and_errors():
    assert [s.name for s in singles(BLOCKS)] == ["a", "b", "c"]
    pairs = ordered_pairs(BLOCKS)
    assert [s.name for s in pairs] == ["a+b", "a+c", "b+a", "b+c", "c+a", "c+b"]  # n (n - 1), first transform first
    assert pairs[2].transforms == [BLOCKS["b"][0], BLOCKS["a"][0]]
    (combo,) = compositions(BLOCKS, {"x": ["c", "a", "c"]})
    assert combo.parts == ("c", "a", "c") and len(combo.transforms) == 3
    with pytest.raises(ValueError, match="unknown block"):
        compositions(BLOCKS, {"x": ["a", "nope"]})
    sweep = strength_sweep(presets.color, [0.25, 1.0], before=presets.crop(28))
    assert [s.name for s in sweep] == ["color 0.25", "color 1"]
    assert [type(m) for m in sweep[1].transforms][:2] == [RandomResizedCrop, RandomHorizontalFlip]
    assert sweep[0].transforms[2].brightness == pytest.approx(0.2) and sweep[1].transforms[
        2
    ].brightness == pytest.approx(0.8)


def test_yaml_errors_are_one_line(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        "blocks:\n  a:\n    - class_path: augmentations.RandomRot90\nsingles: true\ncompositions:\n  a: [a]\n"
    )
    with pytest.raises(ValueError, match=r"unique.*\['a'\]"):
        load_strategies(dup)
    empty = tmp_path / "empty.yaml"
    empty.write_text("blocks:\n  a:\n    - class_path: augmentations.RandomRot90\n")
    with pytest.raises(ValueError, match="defines no strategy"):
        load_strategies(empty)
    with pytest.raises(FileNotFoundError, match="configs/strategies"):
        load_strategies(tmp_path / "missing.yaml")


def test_shipped_names_pass_and_files_are_named_by_index_and_slug():
    from simclr.ablation.experiments import load_experiment
    from simclr.ablation.names import file_names, name_problem

    names = [s.name for p in sorted((CONFIGS / "strategies").glob("*.yaml")) for s in load_strategies(p)]
    names += [v.name for p in sorted((CONFIGS / "experiments").glob("*.yaml")) for v in load_experiment(p).variants]
    assert "crop + color 1/8" in names and "crop (0.08, 1)" in names and "color_0.25" in names
    assert [n for n in names if name_problem(n)] == []
    assert file_names(["crop + color 1/8", "../../x", "a" * 100, "é"], ".yaml") == {
        "crop + color 1/8": "00_crop_+_color_1_8.yaml",
        "../../x": "01_x.yaml",
        "a" * 100: "02_" + "a" * 40 + ".yaml",
        "é": "03_x.yaml",
    }
    assert [name_problem(n) for n in ("", ".hidden", "a..b", "a\nb", " a", "a ", 7)] == [
        "is empty", "starts with '.'", "contains '..'", "contains '\\n'",
        "starts with a sign or ends with a space", "starts with a sign or ends with a space", "is not text (int)",
    ]  # fmt: skip


def test_one_sided_views_keep_one_branch_clean():
    pipeline = presets.compose([presets.rotate()], [0.5], [0.25])
    images = fakedata.fake_images(6, (1, 8, 8), seed=0)
    clean, augmented = OneSidedViews(pipeline)(images)
    assert torch.equal(clean, pipeline.normalise(images))
    turned = [
        any(torch.equal(augmented[i], torch.rot90(clean[i], k, dims=(-2, -1))) for k in (1, 2, 3)) for i in range(6)
    ]
    assert all(turned)  # p=1: every image turned by a quarter turn, none left as is


def tiny_model() -> SimCLR:
    encoder = ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1)
    augment = MultiView(presets.simclr_fashion_mnist(28))
    return SimCLR(
        encoder,
        augment,
        head=lambda d: ProjectionHead(d, hidden_dim=16, out_dim=8),
        warmup_epochs=0.0,
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
    )


@pytest.mark.slow  # pretrains and probes once per strategy type
def test_compare_runs_every_strategy_type(tmp_path):
    data = FashionMNIST(str(fakedata.write_fashion_mnist(tmp_path / "fm", n_train=64, n_test=40)), batch_size=16)
    strategies = (
        singles({"crop": presets.crop(28)})
        + ordered_pairs({"noise": presets.noise(), "rotate": presets.rotate()})[:1]
        + compositions({"crop": presets.crop(28)}, {"crop twice": ["crop", "crop"]})
        + strength_sweep(presets.color, [0.5])
        + [Strategy("preset", list(presets.simclr_fashion_mnist(28).transforms))]
    )
    budget = Budget(max_steps=2, probe_images=48, val_images=24, probe_max_iter=3)
    rows = compare_strategies(strategies, tiny_model, data, budget, accelerator="cpu", out_dir=tmp_path / "out")
    assert [r.strategy for r in rows] == [UNTRAINED, "crop", "noise+rotate", "crop twice", "color 0.5", "preset"]
    assert rows[2].parts == ["noise", "rotate"] and rows[0].parts == [] and rows[0].final_loss is None
    for r in rows[1:]:
        assert 0 <= r.h_top1 <= 1 and 0 <= r.z_top1 <= 1 and 0 <= r.contrastive_top1 <= 1
        assert math.isfinite(r.final_loss) and math.isfinite(r.train_loss) and r.seconds > 0
    assert read_rows(tmp_path / "out" / "compare.json") == rows  # rewritten after every strategy
    with open(tmp_path / "out" / "compare.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [t["strategy"] for t in table] == [r.strategy for r in rows] and table[2]["parts"] == "noise > rotate"
    # everything but the strategy is fixed: the same strategy twice gives the same numbers
    again = compare_strategies(strategies[1:2], tiny_model, data, budget, accelerator="cpu", untrained=False)
    assert again[0].h_top1 == rows[2].h_top1 and again[0].final_loss == pytest.approx(rows[2].final_loss)


def test_write_format_and_summary(tmp_path):
    rows = [
        CompareRow(UNTRAINED, [], 0.70, 0.69, None, None, None, 1.0),
        CompareRow("crop", ["crop"], 0.75, 0.74, 3.0, 0.3, 3.1, 2.0),
        CompareRow("color", ["color"], 0.72, 0.70, 2.0, 0.6, 2.1, 2.0),
        CompareRow("crop+color", ["crop", "color"], 0.80, 0.78, 3.5, 0.2, 3.4, 2.0),
        CompareRow("color+crop", ["color", "crop"], 0.74, 0.73, 3.4, 0.2, 3.4, 2.0),
    ]
    write_rows(rows, tmp_path)
    assert json.loads((tmp_path / "compare.json").read_text())[0]["final_loss"] is None
    table = format_rows(rows)
    assert (
        "| untrained | 70.00 | 69.00 | - | - | 1 |" in table
        and "| crop+color | 80.00 | 78.00 | 3.500 | 20.0 | 2 |" in table
    )
    text = summary(rows)  # one seed: the noise rule makes no call, the numbers come unranked
    assert text.startswith("one seed: the noise rule (3+ seeds, Welch's t-test p < 0.05) makes no call")
    assert "crop+color 80.00%" in text and "best" not in text.lower() and "beat" not in text
    seeds = [
        CompareRow(r.strategy, r.parts, r.h_top1 + 0.001 * seed * (1 + i % 2), r.z_top1, None, None, None, 1.0, seed)
        for seed in range(3)
        for i, r in enumerate(rows)
    ]
    text = summary(seeds)  # three seeds: the rule's verdicts
    assert "crop then color (80.20%): against crop (75.20%) higher (p < 0.001)" in text
    assert "Against the untrained encoder (70.10%): of 4 strategies 4 higher, 0 tie, 0 lower." in text


def test_split_fit_args():
    args = [
        "--config",
        "a.yaml",
        "--strategies",
        "s.yaml",
        "--data.init_args.root",
        "/d",
        "--model.x=1",
        "--epochs",
        "2",
    ]
    assert split_fit_args(args) == (
        ["--config", "a.yaml", "--data.init_args.root", "/d", "--model.x=1"],
        ["--strategies", "s.yaml", "--epochs", "2"],
    )


@pytest.mark.slow  # the whole command through the entry point
def test_cli_compare_augs(tmp_path, monkeypatch):
    from simclr.cli import main as cli_main

    root = fakedata.write_fashion_mnist(tmp_path / "fm", n_train=64, n_test=32)
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "blocks:\n  rotate:\n    - class_path: augmentations.RandomRot90\n  flip:\n    - class_path: augmentations.RandomHorizontalFlip\n"
        "  noise:\n    - class_path: augmentations.RandomGaussianNoise\n      init_args: {p: 1.0}\npairs: true\n"
    )
    out = tmp_path / "out"
    monkeypatch.setattr(
        "sys.argv",
        [
            "simclr",
            "compare-augs",
            "--config",
            str(CONFIGS / "fashion_mnist.yaml"),
            "--data.init_args.root",
            str(root),
            "--data.init_args.batch_size",
            "16",
            "--model.encoder.init_args.stage_widths",
            "[8, 8, 8, 8]",
            "--strategies",
            str(spec),
            "--out_dir",
            str(out),
            "--max_steps",
            "1",
            "--probe_images",
            "32",
            "--val_images",
            "16",
            "--probe_max_iter",
            "2",
            "--accelerator",
            "cpu",
            "--only",
            "[rotate, noise]",
            "--untrained",
            "false",
            "--data_file",
            str(tmp_path / "pages" / "grid.jsonl"),
        ],
    )
    cli_main.main()
    rows = read_rows(out / "compare.json")
    data = (tmp_path / "pages" / "grid.jsonl").read_text()  # the data rows, also where --data_file says
    assert data == (out / "runs.jsonl").read_text() and data.count("\n") == len(rows)
    assert [(d["variant"], d["steps"], d["batch_size"]) for d in read_run_data(out / "runs.jsonl")] == [
        (r.strategy, 1, 16) for r in rows
    ]
    assert [r.strategy for r in rows] == ["rotate+noise", "noise+rotate"]  # pairs of the kept blocks only, no baseline
    for name in ("compare.csv", "heatmap.png", "bars.png"):
        assert (out / name).read_bytes()[:4] in (b"stra", b"\x89PNG")
    pictures = EventAccumulator(str(out / "tensorboard"), size_guidance={IMAGES: 0, TENSORS: 0}).Reload()
    assert set(pictures.Tags()[IMAGES]) == {"compare/heatmap", "compare/bars"}
    for tag in ("compare/heatmap", "compare/bars"):
        (event,) = pictures.Images(tag)
        assert event.height > 100 and event.width > 100
    (text,) = pictures.Tensors("compare/table/text_summary")
    assert "rotate+noise" in text.tensor_proto.string_val[0].decode()
