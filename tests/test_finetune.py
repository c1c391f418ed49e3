"""`simclr finetune`: the whole network trains on a labelled subset; scratch differs only in its initial weights;
SimCLR v2's `--from head_1`; records, export, and one-line errors for bad input. The LP-FT recipe and the
three-row comparison: tests/test_finetune_recipe.py."""

import json
import os
from pathlib import Path

import pytest
import torch
from helpers.cli import run_args, user_error
from helpers.finetune import finetune_args, finetune_tiny

from simclr.cli.main import run_command
from simclr.eval.evaluate import evaluate_checkpoint
from simclr.eval.linear_probe import ProbeRecipe
from simclr.finetuning.report import RECORD_KEYS
from simclr.loading.finetuned import load_finetuned
from simclr.loading.pretrained import load_datamodule, load_pretrained
from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow
FROZEN_LR = "1e-12"  # a run whose weights stay at their initial values (to 1e-6): compares initialisations


@pytest.fixture(scope="module")
def trained_v2(tiny, tmp_path_factory) -> Path:
    """last.ckpt of a 1-step run of the tiny model with SimCLR v2's 3-layer head (configs/heads/simclr_v2_head.yaml)."""
    run = tmp_path_factory.mktemp("trained_v2")
    config = Path(__file__).parents[1] / "configs" / "heads" / "simclr_v2_head.yaml"
    run_fit(run_args(tiny, run, "--config", str(config), "--trainer.max_steps", "1"))
    return run / "ckpt" / "last.ckpt"


def encoder_differs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return any(not torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_finetuning_updates_the_encoder_and_the_frozen_probe_never_does(trained, tmp_path):
    pretrained = load_pretrained(str(trained))
    tuned = load_finetuned(finetune_tiny(trained, tmp_path / "ft"))
    assert encoder_differs(tuned.encoder, pretrained.encoder)
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    data = load_datamodule(str(trained))
    evaluate_checkpoint(
        pretrained, data, ProbeRecipe(max_iter=2), pixels=False, random_baseline=False, diagnostics=False
    )
    assert all(torch.equal(before[k], v) for k, v in pretrained.state_dict().items())


def test_from_head_1_keeps_exactly_the_first_head_layer(trained_v2, tmp_path):
    pretrained = load_pretrained(str(trained_v2))
    tuned = load_finetuned(finetune_tiny(trained_v2, tmp_path / "ft", "--from", "head_1", "--lr", FROZEN_LR))
    assert len(pretrained.head.layers) == 3 and len(tuned.head) == 1 and tuned.from_layer == "head_1"
    assert {k.split(".")[0] for k in tuned.state_dict()} == {"encoder", "head", "classifier"}
    assert torch.allclose(tuned.head[0][0].weight, pretrained.head.layers[0][0].weight, atol=1e-6)
    assert tuned.classifier.in_features == pretrained.head.dims[0] == 16
    assert not encoder_differs(tuned.encoder, pretrained.encoder) or torch.allclose(
        next(tuned.encoder.parameters()), next(pretrained.encoder.parameters()), atol=1e-6
    )


def test_scratch_and_simclr_differ_only_in_their_initial_weights(trained, tmp_path):
    out = tmp_path / "ft"
    plain = ["--classifier_init", "random", "--encoder_lr_ratio", "1", "--bn", "train"]  # scratch's recipe, not LP-FT
    simclr = load_finetuned(finetune_tiny(trained, out, "--lr", FROZEN_LR, "--seed", "5", *plain))
    scratch = load_finetuned(finetune_tiny(trained, out, "--lr", FROZEN_LR, "--seed", "5", "--init", "scratch"))
    pretrained = load_pretrained(str(trained))
    shapes = {k: v.shape for k, v in simclr.state_dict().items()}
    assert shapes == {k: v.shape for k, v in scratch.state_dict().items()}  # same architecture
    assert torch.allclose(simclr.classifier.weight, scratch.classifier.weight, atol=1e-6)  # same seed, same head init
    assert encoder_differs(scratch.encoder, pretrained.encoder)
    assert torch.allclose(next(simclr.encoder.parameters()), next(pretrained.encoder.parameters()), atol=1e-6)
    subsets = sorted(out.glob("subset_*.json"))
    assert [p.name for p in subsets] == ["subset_0.5_seed5.json"]  # both runs: one subset, the same seed and order
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["init"], r["recipe"]) for r in records] == [("simclr", "ft"), ("scratch", "scratch")]
    assert all(set(r) == set(RECORD_KEYS) for r in records) and records[0]["labelled_images"] == 30
    assert [r["comparison"] for r in records] == [1, 2]  # two commands, two comparisons
    assert "| scratch | h | 50% | 30 |" in (out / "finetune.md").read_text()
    assert list((out / "simclr-from_h-0.5-seed5").glob("version_*/events.out.tfevents.*"))  # TensorBoard curves


def test_a_reused_subset_file_gives_the_same_images(trained, tmp_path):
    finetune_tiny(trained, tmp_path / "a", "--seed", "1")
    subset = tmp_path / "a" / "subset_0.5_seed1.json"
    run_args_b = finetune_args(trained, tmp_path / "b", "--subset", str(subset))
    run_args_b.remove("--label_fraction"), run_args_b.remove("0.5")

    run_command(["finetune", *run_args_b])
    copied = json.loads((tmp_path / "b" / "subset_0.5_seed1.json").read_text())
    assert copied == json.loads(subset.read_text())


def test_export_writes_the_finetuned_encoder(trained, tmp_path, capsys):
    tuned_ckpt = finetune_tiny(trained, tmp_path / "ft")
    out = tmp_path / "backbone.pt"
    run_command(["export", "--ckpt", str(tuned_ckpt), "--out", str(out)])
    tuned = load_finetuned(tuned_ckpt)
    state, expected = torch.load(out, weights_only=True), tuned.encoder.backbone_state_dict()
    assert state.keys() == expected.keys() and all(torch.equal(state[k], expected[k]) for k in expected)
    scripted = tmp_path / "encoder.ts"
    run_command(["export", "--ckpt", str(tuned_ckpt), "--out", str(scripted), "--format", "torchscript"])
    assert "mean [" in capsys.readouterr().out
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(scripted))(x), tuned.encoder.eval()(x), atol=1e-5)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--label_fraction", "0"], "--label_fraction 0.0 is outside (0, 1]"),
        (["--label_fraction", "1.5"], "--label_fraction 1.5 is outside (0, 1]"),
        (["--label_fraction", "0.05"], "no labelled image"),
        (["--from", "head_2"], "--from head_2 names a layer the projection head lacks (it has h, head_1, z)"),
        (["--max_steps", "0"], "--max_steps is 0"),
    ],
)
def test_bad_options_are_one_line_errors(trained, monkeypatch, capsys, tmp_path, extra, expected):
    line = user_error(monkeypatch, capsys, "finetune", "--ckpt", str(trained), "--out_dir", str(tmp_path), *extra)
    assert expected in line


def test_a_subset_of_another_dataset_is_refused(trained, monkeypatch, capsys, tmp_path):
    foreign = tmp_path / "subset.json"
    foreign.write_text(json.dumps({"dataset": "CIFAR10 labelled train split (50000 images, 10 classes)",
                                   "train_images": 50000, "seed": 0, "label_fraction": 0.01, "indices": [3, 9]}))  # fmt: skip
    line = user_error(monkeypatch, capsys, "finetune", "--ckpt", str(trained), "--subset", str(foreign),
                      "--out_dir", str(tmp_path))  # fmt: skip
    assert "was drawn from 'CIFAR10" in line and "drop --subset" in line


def test_checkpoints_that_are_not_pretraining_runs_are_refused(trained, monkeypatch, capsys, tmp_path):
    tuned = finetune_tiny(trained, tmp_path / "ft")
    line = user_error(monkeypatch, capsys, "finetune", "--ckpt", str(tuned), "--out_dir", str(tmp_path))
    assert "is a fine-tuned model, not a pretraining run" in line
    backbone = tmp_path / "backbone.pt"
    run_command(["export", "--ckpt", str(trained), "--out", str(backbone)])
    line = user_error(monkeypatch, capsys, "finetune", "--ckpt", str(backbone), "--out_dir", str(tmp_path))
    assert "was not written by `simclr fit`" in line


class Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_crafted_checkpoint_runs_no_code(trained, monkeypatch, capsys, tmp_path):
    marker = tmp_path / "pwned"
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["extra"] = Payload(marker)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    for command in (["finetune", "--ckpt"], ["distill", "--ckpt"]):
        line = user_error(monkeypatch, capsys, *command, str(crafted), "--out_dir", str(tmp_path / "out"))
        assert "safe loading (torch.load weights_only=True) refuses" in line and "--weights_only false" in line
        assert not marker.exists()


def test_crop_scale_sets_the_fine_tuning_crops_and_is_checked(trained, tmp_path, monkeypatch, capsys):
    default = load_finetuned(finetune_tiny(trained, tmp_path / "flip"))
    assert default.augment.transforms[0].scale == (1.0, 1.0)  # flip only unless asked
    cropped = load_finetuned(finetune_tiny(trained, tmp_path / "crop", "--crop_scale", "[0.08, 1.0]"))
    assert cropped.augment.transforms[0].scale == (0.08, 1.0)
    line = user_error(
        monkeypatch, capsys, "finetune", *finetune_args(trained, tmp_path / "bad", "--crop_scale", "[0.5, 0.2]")
    )
    assert "--crop_scale [0.5, 0.2] must satisfy 0 < low <= high <= 1" in line
