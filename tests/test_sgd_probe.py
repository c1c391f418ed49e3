"""The streamed SGD probe: matches the L-BFGS probe on separable features, never trains the encoder, and
`simclr probe --solver sgd` writes the same report as the L-BFGS probe."""

import json

import pytest
import torch
from helpers.cli import user_error

from simclr.cli.main import run_command
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_probe
from simclr.eval.sgd_probe import SGDProbeRecipe, evaluate_with_sgd, fit_streamed_probes, score_streamed_probes
from simclr.loading.pretrained import load_datamodule, load_pretrained


def blobs(n: int, classes: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Linearly separable features (n, dim): class c is centred on 4 * e_c, unit noise, scaled and offset; labels (n,)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return (torch.randn(n, dim, generator=gen) + 4 * torch.eye(dim)[y]) * 10 + 3, y


def stream(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
    """A FeatureStream over in-memory features: a new shuffled order each call."""
    gen = torch.Generator().manual_seed(seed)

    def batches():
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            yield {"h": x[idx], "double": 2 * x[idx]}, y[idx]

    return batches


def test_sgd_probe_reaches_the_lbfgs_accuracy_on_separable_features():
    train_x, train_y = blobs(1024, 4, 8, seed=0)
    test_x, test_y = blobs(512, 4, 8, seed=1)
    lbfgs = fit_linear_probe(train_x, train_y, test_x, test_y, 4, ProbeRecipe(max_iter=50))
    recipe = SGDProbeRecipe(epochs=5, lr=0.1)
    probes = fit_streamed_probes(stream(train_x, train_y, 64, 0), {"h": 8, "double": 8}, 4, 16, recipe)
    scores = score_streamed_probes(probes, stream(test_x, test_y, 100, 1), 4)
    assert lbfgs > 0.9 and scores["h"] >= lbfgs - 0.01 and scores["double"] >= lbfgs - 0.01


def test_sgd_probe_is_reproducible_with_its_seed():
    x, y = blobs(256, 4, 8, seed=0)
    runs = [
        fit_streamed_probes(stream(x, y, 32, 0), {"h": 8, "double": 8}, 4, 8, SGDProbeRecipe(epochs=1))
        for _ in range(2)
    ]
    assert torch.equal(runs[0]["h"][1].weight, runs[1]["h"][1].weight)


def test_sgd_probe_rejects_zero_epochs():
    x, y = blobs(16, 4, 8, seed=0)
    with pytest.raises(ValueError, match="--epochs 0"):
        fit_streamed_probes(stream(x, y, 8, 0), {"h": 8}, 4, 2, SGDProbeRecipe(epochs=0))


@pytest.mark.slow
def test_streamed_probe_never_trains_the_encoder(trained):
    model, data = load_pretrained(str(trained)), load_datamodule(str(trained))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = evaluate_with_sgd(model, data, SGDProbeRecipe(epochs=1), "cpu", 16, None, baselines=True)
    assert [r.representation for r in rows] == ["h", "head_1", "z", "random_h", "pixels"]
    assert all(0 <= r.linear_top1 <= 1 and r.knn_top1 is None for r in rows)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training  # its mode is restored


@pytest.mark.slow
def test_probe_solver_sgd_writes_the_probe_report(trained, tmp_path, monkeypatch, capsys):
    run_command(["probe", "--ckpt", str(trained), "--out_dir", str(tmp_path), "--solver", "sgd", "--epochs", "1",
                 "--batch_size", "16", "--representations", "[h, z]", "--baselines", "false", "--device", "cpu"])  # fmt: skip
    rows = json.loads((tmp_path / "probe.json").read_text())
    assert [r["representation"] for r in rows] == ["h", "z"]
    assert all(set(r) == {"representation", "dim", "linear_top1", "knn_top1"} for r in rows)
    assert "SGD (Nesterov momentum" in (tmp_path / "probe.md").read_text()
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(trained), "--epochs", "3", "--out_dir", str(tmp_path))
    assert "--epochs sets the sgd solver" in line and "--solver sgd" in line
    line = user_error(
        monkeypatch, capsys, "probe", "--ckpt", str(trained), "--crop_scale", "[0.2, 1]", "--out_dir", str(tmp_path)
    )
    assert "--crop_scale sets the sgd solver" in line
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(trained), "--solver", "sgd", "--crop_scale", "[0, 1]",
                      "--out_dir", str(tmp_path))  # fmt: skip
    assert "--crop_scale [0.0, 1.0] must satisfy 0 < low <= high <= 1" in line
