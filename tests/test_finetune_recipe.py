"""The LP-FT recipe of `simclr finetune`: the classifier starts at the frozen probe (folded onto raw features), the
encoder learns at the stated fraction of the classifier's rate, frozen BatchNorm keeps its statistics, the budget
has a floor for small subsets, and the report compares probe, fine-tuned and scratch with a stated tie rule."""

import json
from pathlib import Path

import pytest
import torch
from helpers.cli import run_args
from helpers.finetune import finetune_args, finetune_tiny
from lightning.pytorch import Callback
from torch import nn
from torch.utils.data import Subset

from simclr.errors import UserError
from simclr.eval.features import extract_representations
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_classifier, fit_linear_probe, fitted_probe
from simclr.finetuning import finetune as finetune_module
from simclr.finetuning.comparison import margin, verdict
from simclr.finetuning.finetuner import FineTuner
from simclr.finetuning.recipe import ENCODER_LR_RATIO, Recipe, choose_recipe, compare_or_default, start_probe
from simclr.finetuning.report import RECORD_KEYS, append_comparison, make_record, read_records
from simclr.finetuning.runs import DEFAULT_EPOCHS, MIN_STEPS, run_budget
from simclr.loading.finetuned import load_finetuned
from simclr.loading.pretrained import load_datamodule, load_pretrained
from simclr.models.representations import projection_head
from simclr.pretraining import run_fit

FROZEN_LR = "1e-12"  # weights stay at their initial values (to 1e-6)


class TinyEncoder(nn.Module):
    """Conv -> BatchNorm -> ReLU -> pool: h (B, 4) from (B, 1, 8, 8)."""

    feature_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def tiny_finetuner(**kwargs) -> FineTuner:
    sgd = lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)  # noqa: E731
    return FineTuner(TinyEncoder(), 3, nn.Identity(), optimizer=sgd, **kwargs)


@pytest.mark.parametrize("standardise, whiten", [(True, True), (True, False), (False, True), (False, False)])
def test_the_probe_folds_into_one_layer_on_raw_features(standardise, whiten):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=gen) * torch.linspace(0.1, 20, 6) + torch.linspace(-5, 5, 6)
    y = (x[:, 0] / 0.1 + x[:, 5] / 20 > 0).long() + (x[:, 2] > 0).long()
    test_x = torch.randn(50, 6, generator=gen) * 3
    test_y = torch.randint(0, 3, (50,), generator=gen)
    recipe = ProbeRecipe(standardise=standardise, whiten=whiten)
    prep, probe = fitted_probe(x, y, 3, recipe)
    layer = prep.fold(probe.linear)
    assert torch.allclose(layer(test_x), probe(prep(test_x)), atol=1e-4)
    top1, folded = fit_linear_classifier(x, y, test_x, test_y, 3, recipe)
    assert top1 == fit_linear_probe(x, y, test_x, test_y, 3, recipe)
    assert torch.equal(folded.weight, layer.weight) and torch.equal(folded.bias, layer.bias)


def test_a_feature_constant_on_the_train_split_is_not_amplified_by_the_fold():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    x[:, 2] = 0.5  # e.g. a ReLU unit no labelled image turns on
    prep, probe = fitted_probe(x, (x[:, 0] > 0).long(), 2)
    layer = prep.fold(probe.linear)
    assert prep.std[2] == 1 and layer.weight[:, 2].abs().max() < 1  # not its weight / 1e-6


def test_folding_draws_nothing_from_the_global_generator():
    prep, probe = fitted_probe(torch.randn(40, 3), torch.arange(40) % 2, 2)
    state = torch.random.get_rng_state()
    prep.fold(probe.linear)
    assert torch.equal(state, torch.random.get_rng_state())  # LP-FT and scratch runs draw the same initial weights


def test_the_encoder_learns_at_the_stated_fraction_of_the_classifiers_rate():
    model = tiny_finetuner(encoder_lr_ratio=0.1)
    lr_of = {id(p): g["lr"] for g in model.build_optimizer().param_groups for p in g["params"]}
    assert all(lr_of[id(p)] == pytest.approx(0.005) for p in model.encoder.parameters())
    assert all(lr_of[id(p)] == pytest.approx(0.05) for p in model.classifier.parameters())
    assert len(lr_of) == sum(1 for _ in model.parameters())  # every parameter trains
    plain = tiny_finetuner()
    assert {g["lr"] for g in plain.build_optimizer().param_groups} == {0.05}


@pytest.mark.parametrize("bn", ["frozen", "train"])
def test_frozen_batchnorm_keeps_its_running_statistics_and_train_mode_updates_them(bn):
    model = tiny_finetuner(bn=bn)
    norm = model.encoder.net[1]
    before = norm.running_mean.clone(), norm.running_var.clone()
    model.train()
    model(torch.randn(8, 1, 8, 8)).sum().backward()
    unchanged = torch.equal(before[0], norm.running_mean) and torch.equal(before[1], norm.running_var)
    assert unchanged == (bn == "frozen") and norm.training == (bn == "train")
    assert model.training and model.classifier.training and norm.weight.grad is not None  # scale and shift train


def test_the_budget_has_a_floor_for_small_subsets_and_takes_explicit_budgets_as_given():
    small = run_budget(None, None, steps_per_epoch=2)  # e.g. 400 images in batches of 256
    assert (small.max_epochs, small.max_steps, small.steps) == (None, MIN_STEPS, MIN_STEPS) == (None, 500, 500)
    assert small.rule == f"the floor of 500 steps ({DEFAULT_EPOCHS} epochs would be 60)"
    assert (
        small.describe(2, 256) == "500 steps of 256 images (250 epochs): the floor of 500 steps (30 epochs would be 60)"
    )
    large = run_budget(None, None, steps_per_epoch=47)
    assert (large.max_steps, large.steps, large.rule) == (1410, 1410, "30 epochs, the default")
    assert (run_budget(5, None, 2).max_epochs, run_budget(5, None, 2).steps) == (5, 10)
    assert (run_budget(None, 60, 2).max_steps, run_budget(None, 60, 2).rule) == (60, "--max_steps 60")
    both = run_budget(5, 300, 2)
    assert (both.max_epochs, both.max_steps, both.steps) == (5, 300, 10)


def test_the_tie_margin_is_two_standard_errors_and_at_least_half_a_point():
    assert margin([0.9, 0.9], 10000) == pytest.approx(2 * (2 * 0.9 * 0.1 / 10000) ** 0.5)  # 0.85 points
    assert margin([0.9, 0.9], 10**7) == 0.005
    assert margin([0.85, 0.95], 1000) == pytest.approx(2 * (2 * 0.9 * 0.1 / 1000) ** 0.5)  # at the mean top-1


def test_the_verdict_calls_a_win_only_beyond_the_margin():
    rows = [("frozen probe on h", 0.897), ("fine-tuned simclr (LP-FT)", 0.920), ("scratch", 0.901)]
    assert verdict(rows, 10000) == (
        "fine-tuned simclr (LP-FT) wins: 92.00, +2.30 over frozen probe on h, +1.90 over scratch "
        "(a win needs a lead of more than 0.83 points)"
    )
    close = [("frozen probe on h", 0.897), ("fine-tuned simclr (LP-FT)", 0.870), ("scratch", 0.901)]
    assert verdict(close, 10000) == (
        "tie: frozen probe on h 89.70 and scratch 90.10 are within 0.89 points of the best; "
        "fine-tuned simclr (LP-FT) trails the best by 3.10"
    )
    assert verdict(close, 100).startswith("tie: frozen probe on h 89.70, fine-tuned simclr (LP-FT) 87.00 and scratch")
    assert verdict(rows[:1], 10000) == "one row: nothing to compare"


def row(recipe: str, top1: float, init: str = "simclr", steps: int = 500) -> dict:
    return make_record(init, "h", 0.1, 400, 0, recipe, 0 if recipe == "probe" else steps, 0 if recipe == "probe" else 250,
                       10000, top1)  # fmt: skip


def test_the_report_shows_each_comparison_as_a_table_with_its_verdict(tmp_path):
    rows = [row("probe", 0.897), row("lp-ft", 0.92), row("scratch", 0.901, init="scratch")]
    md, js, numbered = append_comparison(tmp_path, rows, "# Fine-tuning")
    assert [r["comparison"] for r in numbered] == [1, 1, 1] and set(numbered[0]) == set(RECORD_KEYS)
    append_comparison(tmp_path, [row("scratch", 0.5, init="scratch")], "# Fine-tuning")
    text = md.read_text()
    assert text.startswith("# Fine-tuning\n\nA row wins only when its test top-1 exceeds every other row")
    assert "## Comparison 1: from h, 10% labels (400 images), seed 0" in text
    assert "| init | from | label fraction | labelled images | seed | recipe | steps | epochs | top-1 |" in text
    assert "| simclr | h | 10% | 400 | 0 | probe | 0 | 0 | 89.70 |" in text
    assert "| simclr | h | 10% | 400 | 0 | lp-ft | 500 | 250 | 92.00 |" in text
    assert "| scratch | h | 10% | 400 | 0 | scratch | 500 | 250 | 90.10 |" in text
    assert "fine-tuned simclr (LP-FT) wins: 92.00, +2.30 over frozen probe on h, +1.90 over scratch" in text
    assert "## Comparison 2:" in text and "one row: nothing to compare." in text
    assert [r["comparison"] for r in json.loads(js.read_text())] == [1, 1, 1, 2]
    js.write_text(json.dumps([{"init": "simclr", "from": "h", "top1": 0.9}]))
    with pytest.raises(UserError, match="is not a list of fine-tuning records with the keys comparison, init"):
        read_records(js)


def test_lp_ft_is_the_default_from_pretrained_weights_and_scratch_keeps_its_own_recipe():
    assert choose_recipe("simclr", None, None, None) == Recipe("lp-ft", True, "probe", ENCODER_LR_RATIO, "train")
    assert choose_recipe("simclr", None, 0.01, "frozen") == Recipe("lp-ft", True, "probe", 0.01, "frozen")
    assert choose_recipe("simclr", "random", 1.0, "train") == Recipe("ft", True, "random", 1.0, "train")
    assert choose_recipe("scratch", None, None, None) == Recipe("scratch", False, "random", 1.0, "train")
    assert compare_or_default(None, "simclr") and not compare_or_default(None, "scratch")
    assert not compare_or_default(False, "simclr")
    for args, expected in (
        (("scratch", "probe", None, None), "--classifier_init probe fits the probe on pretrained features"),
        (("scratch", None, None, "frozen"), "--bn frozen keeps the pretrained BatchNorm statistics"),
        (("simclr", None, 0.0, None), "--encoder_lr_ratio is 0.0; pass a positive ratio"),
        (("simclr", None, None, "eval"), "--bn is 'eval'; pass train or frozen"),
    ):
        with pytest.raises(UserError, match=expected):
            choose_recipe(*args)
    with pytest.raises(UserError, match="--compare trains scratch beside a run from pretrained weights"):
        compare_or_default(True, "scratch")


class FirstEvaluation(Callback):
    """Before the first step: the network's test logits in eval mode (the frozen-BN run's "first evaluation")."""

    def __init__(self, images: torch.Tensor):
        self.images, self.logits = images, None

    def on_train_start(self, trainer, pl_module) -> None:
        pl_module.eval()
        with torch.no_grad():
            self.logits = pl_module(pl_module.augment.normalise(self.images))
        pl_module.train()


@pytest.mark.slow
def test_the_classifier_starts_at_the_probe(monkeypatch, trained, tmp_path):
    data = load_datamodule(str(trained))
    test = data.labelled_dataset("test")
    images, labels = (
        torch.stack([test[i][0] for i in range(len(test))]),
        torch.tensor([test[i][1] for i in range(len(test))]),
    )
    first = FirstEvaluation(images)
    make_trainer = finetune_module.make_trainer

    def with_first_evaluation(*args, **kwargs):
        trainer = make_trainer(*args, **kwargs)
        trainer.callbacks.append(first)
        return trainer

    monkeypatch.setattr(finetune_module, "make_trainer", with_first_evaluation)
    out = tmp_path / "ft"
    tuned = load_finetuned(finetune_tiny(trained, out, "--max_steps", "1"))
    subset = json.loads((out / "subset_0.5_seed0.json").read_text())["indices"]
    pretrained = load_pretrained(str(trained))
    probe, layer = start_probe(
        pretrained, "h", Subset(data.labelled_dataset("train"), subset), test, 10, torch.device("cpu")
    )
    feats, _ = extract_representations(
        pretrained.encoder, projection_head(pretrained.head), test, pretrained.augment.normalise
    )
    assert torch.allclose(first.logits, layer(feats["h"]), atol=1e-4)  # exactly the probe's function
    assert (first.logits.argmax(1) == labels).float().mean().item() == pytest.approx(probe.linear_top1, abs=1e-6)
    records = json.loads((out / "finetune.json").read_text())
    assert [r["recipe"] for r in records] == ["probe", "lp-ft"] and records[0]["top1"] == probe.linear_top1
    assert tuned.bn == "train" and tuned.encoder_lr_ratio == ENCODER_LR_RATIO  # the LP-FT defaults


@pytest.fixture(scope="module")
def trained_v2(tiny, tmp_path_factory) -> Path:
    """last.ckpt of a 1-step run of the tiny model with SimCLR v2's 3-layer head."""
    run = tmp_path_factory.mktemp("trained_v2")
    config = Path(__file__).parents[1] / "configs" / "heads" / "simclr_v2_head.yaml"
    run_fit(run_args(tiny, run, "--config", str(config), "--trainer.max_steps", "1"))
    return run / "ckpt" / "last.ckpt"


@pytest.mark.slow
def test_from_head_1_starts_from_the_probe_on_head_1_and_frozen_bn_keeps_its_statistics(trained_v2, tmp_path):
    out = tmp_path / "ft"
    frozen = ["--bn", "frozen", "--lr", FROZEN_LR, "--max_steps", "1"]
    tuned = load_finetuned(finetune_tiny(trained_v2, out, "--from", "head_1", *frozen))
    data, pretrained = load_datamodule(str(trained_v2)), load_pretrained(str(trained_v2))
    subset = json.loads((out / "subset_0.5_seed0.json").read_text())["indices"]
    _, layer = start_probe(pretrained, "head_1", Subset(data.labelled_dataset("train"), subset),
                           data.labelled_dataset("test"), 10, torch.device("cpu"))  # fmt: skip
    assert tuned.classifier.in_features == 16 and torch.allclose(tuned.classifier.weight, layer.weight, atol=1e-5)
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["from"], r["recipe"]) for r in records] == [("head_1", "probe"), ("head_1", "lp-ft")]
    assert records[1]["top1"] == records[0]["top1"]  # frozen BN, lr ~0: the probe's test top-1
    kept = [*pretrained.encoder.named_buffers(), *pretrained.head.layers[0].named_buffers(prefix="head")]
    now = {**dict(tuned.encoder.named_buffers()), **dict(tuned.head[0].named_buffers(prefix="head"))}
    assert [name for name, stats in kept if not torch.equal(stats, now[name])] == []  # BatchNorm statistics unchanged


@pytest.mark.slow
def test_compare_trains_scratch_beside_lp_ft_and_reports_three_rows(trained, tmp_path, capsys):
    out = tmp_path / "ft"
    tuned_ckpt = finetune_tiny(trained, out, "--compare", "true", "--max_steps", "3")
    printed = capsys.readouterr().out
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["init"], r["recipe"], r["steps"]) for r in records] == [
        ("simclr", "probe", 0), ("simclr", "lp-ft", 3), ("scratch", "scratch", 3)]  # fmt: skip
    assert {r["comparison"] for r in records} == {1} and {r["test_images"] for r in records} == {32}
    report = (out / "finetune.md").read_text()
    assert "| simclr | h | 50% | 30 | 0 | lp-ft | 3 | 0.75 |" in report and ("wins:" in report or "tie:" in report)
    assert "Budget: 3 steps of 8 images (0.75 epochs): --max_steps 3" in printed and "## Comparison 1" in printed
    pretrained, tuned = load_pretrained(str(trained)), load_finetuned(tuned_ckpt)
    stats = [(name, b) for name, b in pretrained.encoder.named_buffers() if name.endswith("running_mean")]
    assert all(not torch.equal(b, dict(tuned.encoder.named_buffers())[name]) for name, b in stats)  # BN trains
    groups = torch.load(tuned_ckpt, weights_only=True)["optimizer_states"][0]["param_groups"]
    assert sorted({round(g["initial_lr"], 9) for g in groups}) == [0.005, 0.05]  # encoder at 0.1 x the classifier
    scratch = load_finetuned(out / "checkpoints" / "scratch-from_h-0.5-seed0.ckpt")
    alone = load_finetuned(finetune_tiny(trained, tmp_path / "alone", "--init", "scratch", "--max_steps", "3"))
    assert all(torch.equal(a, b) for a, b in zip(scratch.state_dict().values(), alone.state_dict().values()))
    assert scratch.bn == "train" and scratch.encoder_lr_ratio == 1.0


@pytest.mark.slow
def test_compare_refuses_scratch_and_the_options_scratch_cannot_use(trained, monkeypatch, capsys, tmp_path):
    from helpers.cli import user_error

    for extra, expected in (
        (["--init", "scratch", "--compare", "true"], "--compare trains scratch beside a run from pretrained weights"),
        (["--init", "scratch", "--classifier_init", "probe"], "--classifier_init probe fits the probe"),
        (["--encoder_lr_ratio", "-1"], "--encoder_lr_ratio is -1.0; pass a positive ratio"),
    ):
        line = user_error(monkeypatch, capsys, "finetune", *finetune_args(trained, tmp_path / "out", *extra))
        assert expected in line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
