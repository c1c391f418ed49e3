"""Zero-shot classification and retrieval (`simclr.eval.zeroshot`, `simclr zeroshot`): the prompt ensemble, the
nearest-class rule, the report of a tiny CLIP checkpoint, and one-line errors for what cannot be evaluated; the
image tower of a CLIP checkpoint through `simclr probe`, `simclr.load` and `simclr export` (with its text tower)."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from helpers import fakedata
from helpers.cli import user_error

import simclr
from simclr.captions import CaptionTokenizer, write_fashion_mnist_captions
from simclr.cli.main import run_command
from simclr.errors import UserError
from simclr.eval.zeroshot import check_templates, class_embeddings, read_lines, zero_shot_top1
from simclr.loading.pretrained import load_pretrained
from simclr.models import TextTransformer
from simclr.pretraining import run_fit

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class WordTokenizer:
    """Stands in for CaptionTokenizer: one id per known word, rows padded with 0."""

    def __init__(self, words: list[str]):
        self.ids = {w: i + 1 for i, w in enumerate(words)}

    def encode(self, captions: list[str], where=None) -> torch.Tensor:
        rows = [[self.ids[w] for w in c.split()] for c in captions]
        width = max(len(r) for r in rows)
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])


def test_class_embeddings_average_the_normalised_prompts_of_each_class():
    words = ["a", "b", "cat", "dog"]
    tokenizer = WordTokenizer(words)
    table = torch.randn(len(words) + 1, 4, generator=torch.Generator().manual_seed(0))
    table[0] = 0

    def encode_text(tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(table[tokens].sum(dim=1), dim=1)

    got = class_embeddings(encode_text, tokenizer, ["cat", "dog"], ["a {}", "b {}"], torch.device("cpu"))
    for k, name in enumerate(["cat", "dog"]):
        texts = encode_text(tokenizer.encode([f"a {name}", f"b {name}"]))
        expected = F.normalize(texts.mean(dim=0), dim=0)  # CLIP: mean of unit embeddings, normalised again
        torch.testing.assert_close(got[k], expected)


def test_zero_shot_top1_picks_the_nearest_class():
    classes = torch.eye(3)
    image = F.normalize(torch.tensor([[1.0, 0.1, 0], [0.2, 1, 0], [0, 0.9, 0.1], [0, 0, 1]]), dim=1)
    labels = torch.tensor([0, 1, 2, 2])
    top1, per_class = zero_shot_top1(image, labels, classes)
    assert top1 == pytest.approx(0.75)
    torch.testing.assert_close(per_class, torch.tensor([1.0, 1.0, 0.5]))


def test_prompt_files_and_templates_are_checked(tmp_path):
    with pytest.raises(UserError, match="exactly one"):
        check_templates(["a photo of a dog."])
    with pytest.raises(UserError, match="does not exist"):
        read_lines(tmp_path / "none.txt", "--prompts")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(UserError, match="no non-empty line"):
        read_lines(tmp_path / "empty.txt", "--prompts")


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory) -> dict:
    """A CLIP checkpoint trained for 2 steps on a tiny caption set of fake Fashion-MNIST."""
    tmp = tmp_path_factory.mktemp("clip")
    fm = fakedata.write_fashion_mnist(tmp / "fmnist")
    captions = write_fashion_mnist_captions(fm, tmp / "captions", train_images=40, val_images=16)
    cli = run_fit(["fit", "--config", str(CONFIGS / "clip_fashion_mnist.yaml"),
                   "--data.init_args.manifest", str(captions / "train.jsonl"),
                   "--data.init_args.val_manifest", str(captions / "val.jsonl"), "--data.init_args.num_workers", "0",
                   "--data.init_args.batch_size", "8", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                   "--trainer.limit_val_batches", "1", "--trainer.accelerator", "cpu", "--trainer.devices", "1",
                   "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(tmp / "runs"),
                   "--trainer.default_root_dir", str(tmp / "runs")])  # fmt: skip
    data = tmp / "fm_test.yaml"
    data.write_text(yaml.safe_dump({"class_path": "simclr.data.FashionMNIST", "init_args": {"root": str(fm)}}))
    ckpt = Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt"
    return {"ckpt": ckpt, "captions": captions, "data": data, "tmp": tmp}


@pytest.mark.slow  # trains a tiny CLIP through the CLI
def test_zeroshot_reports_classification_and_retrieval(clip_run, tmp_path):
    captions = clip_run["captions"]
    report = run_command(["zeroshot", "--ckpt", str(clip_run["ckpt"]), "--data", str(clip_run["data"]),
                          "--classes", str(captions / "classes.txt"), "--prompts", str(captions / "prompts.txt"),
                          "--out_dir", str(tmp_path / "zs"), "--device", "cpu"])  # fmt: skip
    result = json.loads((tmp_path / "zs" / "zeroshot.json").read_text())
    assert report == tmp_path / "zs" / "zeroshot.md" and "Zero-shot top-1" in report.read_text()
    assert 0 <= result["top1"] <= 1 and result["images"] > 0
    assert list(result["per_class"]) == read_lines(captions / "classes.txt", "classes")
    assert result["templates"] == read_lines(captions / "prompts.txt", "prompts")
    retrieval = result["retrieval"]
    assert retrieval["pairs"] == 16  # every validation pair of the checkpoint's own caption data
    for direction in ("i2t", "t2i"):
        recalls = [retrieval[f"{direction}_r{k}"] for k in (1, 5, 10)]
        assert all(0 <= r <= 1 for r in recalls) and recalls == sorted(recalls)
    assert any((tmp_path / "zs" / "tensorboard").iterdir())


@pytest.mark.slow
def test_zeroshot_errors_are_one_line(clip_run, monkeypatch, capsys, tmp_path):
    ckpt, data = str(clip_run["ckpt"]), str(clip_run["data"])
    out = ["--out_dir", str(tmp_path / "zs")]
    line = user_error(monkeypatch, capsys, "zeroshot", "--ckpt", ckpt, "--data", data, "--classes",
                      str(tmp_path / "missing.txt"), *out)  # fmt: skip
    assert "--classes file" in line and "does not exist" in line
    few = tmp_path / "few.txt"
    few.write_text("cat\ndog\n")
    line = user_error(monkeypatch, capsys, "zeroshot", "--ckpt", ckpt, "--data", data, "--classes", str(few), *out)
    assert "names 2 classes" in line
    bad = tmp_path / "bad_prompts.txt"
    bad.write_text("a photo of something.\n")
    line = user_error(monkeypatch, capsys, "zeroshot", "--ckpt", ckpt, "--data", data, "--prompts", str(bad), *out)
    assert "exactly one {}" in line
    line = user_error(monkeypatch, capsys, "zeroshot", "--ckpt", ckpt, "--retrieval", "false", *out)
    assert "nothing to evaluate" in line
    under_file = tmp_path / "a_file"
    under_file.write_text("x")
    line = user_error(monkeypatch, capsys, "zeroshot", "--ckpt", ckpt, "--out_dir", str(under_file / "zs"))
    assert "--out_dir" in line


@pytest.mark.slow
def test_zeroshot_refuses_a_checkpoint_without_a_text_tower(trained, monkeypatch, capsys, tmp_path):
    line = user_error(monkeypatch, capsys, "zeroshot", "--ckpt", str(trained), "--out_dir", str(tmp_path))
    assert "carries no caption tokenizer" in line


@pytest.mark.slow
def test_the_image_tower_of_a_clip_checkpoint_probes_loads_and_exports(clip_run, tmp_path):
    ckpt = str(clip_run["ckpt"])
    run_command(["probe", "--ckpt", ckpt, "--data", str(clip_run["data"]), "--out_dir", str(tmp_path / "probe"),
                 "--max_iter", "5", "--knn_k", "3"])  # fmt: skip
    rows = {r["representation"]: r for r in json.loads((tmp_path / "probe" / "probe.json").read_text())}
    assert set(rows) == {"h", "random_h", "pixels"}  # a linear image projection: h is the image tower's output
    assert 0 <= rows["h"]["linear_top1"] <= 1
    handle = simclr.load(ckpt)
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    assert handle.embed(images).shape == (3, handle.encoder.feature_dim)
    run_command(
        ["export", "--ckpt", ckpt, "--out", str(tmp_path / "image.pt"), "--text_out", str(tmp_path / "text.pt")]
    )
    text = torch.load(tmp_path / "text.pt", weights_only=True)
    model = load_pretrained(ckpt)
    tower = TextTransformer(**text["config"])
    tower.load_state_dict({k.removeprefix("text_encoder."): v for k, v in text["state_dict"].items()
                           if k.startswith("text_encoder.")})  # fmt: skip
    tokenizer = CaptionTokenizer.from_json(text["tokenizer"]["json"], text["tokenizer"]["context_length"])
    tokens = tokenizer.encode(["a photo of a bag."])
    torch.testing.assert_close(tower.eval()(tokens), model.text_encoder.eval()(tokens))
    assert set(torch.load(tmp_path / "image.pt", weights_only=True)) == set(model.encoder.backbone_state_dict())


@pytest.mark.slow
def test_text_out_needs_a_text_tower(trained, monkeypatch, capsys, tmp_path):
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained), "--out", str(tmp_path / "image.pt"),
                      "--text_out", str(tmp_path / "text.pt"))  # fmt: skip
    assert "without a text tower" in line
