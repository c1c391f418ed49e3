"""Linear probe, frozen feature extraction, the end-to-end evaluation and its report; `simclr probe` of a
fine-tuned checkpoint and of data with one class."""

import json
import sys

import pytest
import torch
from helpers.cli import user_error
from helpers.fakedata import write_fashion_mnist, write_image_folder
from helpers.finetune import finetune_tiny

from augmentations import MultiView
from augmentations.presets import simclr_fashion_mnist
from simclr.cli import main as cli_main
from simclr.data.datamodules import FashionMNIST
from simclr.data.datasets import TensorImages
from simclr.eval.evaluate import evaluate_checkpoint, random_encoder_like
from simclr.eval.features import extract_representations, pixel_features
from simclr.eval.linear_probe import ProbeRecipe, fit_linear_probe
from simclr.eval.report import ProbeRow, format_table, write_report
from simclr.loading.finetuned import load_finetuned
from simclr.loading.pretrained import load_datamodule
from simclr.methods.simclr import SimCLR
from simclr.models.encoder import ResNetEncoder
from simclr.models.head import ProjectionHead

FAST = ProbeRecipe(max_iter=50)  # enough for 8-dim toy features


def blobs(n: int, classes: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Linearly separable features (n, dim): class c is centred on 4 * e_c, unit noise; labels (n,)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, dim, generator=gen) + 4 * torch.eye(dim)[y]
    return x * 10 + 3, y  # an arbitrary scale and offset, undone by standardisation


def tiny_encoder() -> ResNetEncoder:
    return ResNetEncoder(layers=[1, 1, 1, 1], width=8, in_channels=1)


def tiny_model() -> SimCLR:
    return SimCLR(
        encoder=tiny_encoder(),
        augment=MultiView(simclr_fashion_mnist(28), n_views=2),
        head=lambda dim: ProjectionHead(dim, hidden_dim=32, out_dim=16),
    )


def images(n: int = 20) -> TensorImages:
    return TensorImages(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8), torch.arange(n) % 10)


def test_probe_learns_separable_features():
    train_x, train_y = blobs(1024, 4, 8, seed=0)
    test_x, test_y = blobs(512, 4, 8, seed=1)
    acc = fit_linear_probe(train_x, train_y, test_x, test_y, 4, FAST)
    assert 0.9 < acc <= 1.0
    assert fit_linear_probe(train_x, train_y, test_x, test_y, 4, FAST) == acc  # seeded: reproducible


def test_probe_is_at_chance_on_shuffled_labels():
    train_x, train_y = blobs(1024, 4, 8, seed=0)
    test_x, test_y = blobs(2048, 4, 8, seed=1)
    gen = torch.Generator().manual_seed(2)
    shuffled_train = train_y[torch.randperm(len(train_y), generator=gen)]
    shuffled_test = test_y[torch.randperm(len(test_y), generator=gen)]
    acc = fit_linear_probe(train_x, shuffled_train, test_x, shuffled_test, 4, FAST)
    assert abs(acc - 0.25) < 0.1


def test_extraction_leaves_encoder_untouched_and_restores_mode():
    torch.manual_seed(0)
    encoder, head = tiny_encoder(), ProjectionHead(64, hidden_dim=32, out_dim=16)
    encoder.train(), head.eval()
    before = {k: v.clone() for k, v in {**encoder.state_dict(), **head.state_dict()}.items()}
    normalise = simclr_fashion_mnist(28).normalise
    feats, labels = extract_representations(encoder, head, images(20), normalise, batch_size=8)
    after = {**encoder.state_dict(), **head.state_dict()}
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert encoder.training and not head.training
    assert list(feats) == ["h", "head_1", "z"]
    assert [tuple(v.shape) for v in feats.values()] == [(20, 64), (20, 32), (20, 16)]
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in feats.values())
    assert torch.equal(labels, torch.arange(20) % 10)
    only_h, _ = extract_representations(encoder, None, images(20), normalise)
    assert list(only_h) == ["h"]
    # usable for training afterwards (not inference tensors)
    torch.nn.Linear(64, 2)(feats["h"]).sum().backward()


def test_pixel_features(tmp_path):
    normalise = simclr_fashion_mnist(28).normalise
    x, y = pixel_features(images(10), normalise, batch_size=4)
    assert x.shape == (10, 784) and y.shape == (10,)


def test_random_encoder_like_has_same_architecture_and_new_weights():
    torch.manual_seed(0)
    encoder = tiny_encoder()
    fresh = random_encoder_like(encoder)
    assert type(fresh) is type(encoder) and fresh.feature_dim == encoder.feature_dim
    a, b = encoder.state_dict(), fresh.state_dict()
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    assert not torch.equal(a["net.conv1.weight"], b["net.conv1.weight"])

    class Plain(torch.nn.Module):  # no fresh_copy: the deepcopy + reset_parameters fallback
        def __init__(self):
            super().__init__()
            self.lin, self.bn = torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4)

    plain = Plain()
    plain.bn.running_mean.fill_(5.0)
    copy = random_encoder_like(plain)
    assert not torch.equal(copy.lin.weight, plain.lin.weight) and torch.equal(copy.bn.running_mean, torch.zeros(4))


def test_evaluate_checkpoint_end_to_end_and_report(tmp_path):
    torch.manual_seed(0)
    root = write_fashion_mnist(tmp_path / "fmnist", n_train=64, n_test=32)
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    recipe = ProbeRecipe(max_iter=5)
    rows, diag = evaluate_checkpoint(model, FashionMNIST(root=str(root)), recipe, knn_k=5, batch_size=16)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [r.representation for r in rows] == ["h", "head_1", "z", "random_h", "pixels"]
    assert [r.dim for r in rows] == [64, 32, 16, 64, 784]
    assert all(0.0 <= r.linear_top1 <= 1.0 for r in rows)
    assert [r.knn_top1 is None for r in rows] == [False, True, False, True, True]  # kNN on h and z
    assert set(diag) == {"h", "z"}
    assert set(diag["h"]) == {"alignment", "uniformity", "rankme", "spectrum"}
    assert 0.0 <= diag["z"]["alignment"] <= 4.0 and diag["z"]["uniformity"] <= 0.0
    assert sum(diag["h"]["spectrum"]) == pytest.approx(1.0, abs=1e-4)

    md, js = write_report(rows, tmp_path / "report", diagnostics=diag, header="# Fake Fashion-MNIST")
    entries = json.loads(js.read_text())
    assert [set(e) for e in entries] == [{"representation", "dim", "linear_top1", "knn_top1"}] * 5
    assert entries[1]["knn_top1"] is None and entries[0]["representation"] == "h"
    text = md.read_text()
    assert text.startswith("# Fake Fashion-MNIST") and format_table(rows) in text and "RankMe" in text
    assert json.loads((tmp_path / "report" / "diagnostics.json").read_text()).keys() == {"h", "z"}


def test_format_table():
    table = format_table([ProbeRow("h", 512, 0.91234, None), ProbeRow("z", 128, 0.5, 0.75)])
    lines = table.strip().splitlines()
    assert lines[0] == "| representation | dim | linear top-1 | kNN top-1 |"
    assert lines[2] == "| h | 512 | 91.23 | - |" and lines[3] == "| z | 128 | 50.00 | 75.00 |"


@pytest.mark.slow
def test_probe_of_a_finetuned_checkpoint_probes_its_encoder(monkeypatch, capsys, trained, tmp_path):
    tuned = finetune_tiny(trained, tmp_path / "ft")
    monkeypatch.setattr(sys, "argv", ["simclr", "probe", "--ckpt", str(tuned), "--max_iter", "3", "--knn_k", "5",
                                      "--out_dir", str(tmp_path / "probe")])  # fmt: skip
    cli_main.main()
    rows = json.loads((tmp_path / "probe" / "probe.json").read_text())
    assert [(r["representation"], r["dim"]) for r in rows] == [("h", 64), ("random_h", 64), ("pixels", 784)]
    direct, _ = evaluate_checkpoint(load_finetuned(tuned), load_datamodule(str(trained)), ProbeRecipe(max_iter=3),
                                    knn_k=5, pixels=False, random_baseline=False, diagnostics=False)  # fmt: skip
    assert rows[0]["linear_top1"] == direct[0].linear_top1 and rows[0]["knn_top1"] == direct[0].knn_top1
    report = (tmp_path / "probe" / "probe.md").read_text()
    assert "The encoder of a `simclr finetune` (or `simclr distill`) checkpoint, frozen: h only" in report
    assert "own test top-1 is in finetune.json" in report
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(tuned), "--representations", "[h, z]")
    assert f"checkpoint {tuned} is a `simclr finetune` checkpoint, whose fine-tuned encoder is probed on h only" in line
    assert "another architecture" not in line


@pytest.mark.slow
def test_probe_on_an_image_folder_of_one_class_is_one_line(monkeypatch, capsys, trained, tmp_path):
    root = write_image_folder(tmp_path / "one" / "train", classes=("shirts",))
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(trained), "--data", "simclr.data.ImageFolder",
                      "--data.root", str(root), "--out_dir", str(tmp_path / "probe"))  # fmt: skip
    assert line == (
        f"simclr: error: the data at {root.absolute()} has 1 class (shirts); a probe needs 2 or more: pass --root "
        f"(or --data.init_args.root) with one sub-folder of images per class"
    )
