"""The scripts in examples/ run at a tiny size: train SimCLR from Python and probe it, then load the
checkpoint with `simclr.load` and embed a folder of images."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import fakedata
from torchvision.io import write_png

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_train_and_probe(tmp_path):
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    out = run(str(REPO / "examples" / "train_and_probe.py"), "--root", str(root), "--out_dir", "run",
              "--max_steps", "2", "--batch_size", "8", "--widths", "4", "8", "8", "16", cwd=tmp_path)  # fmt: skip
    assert "h: linear top-1" in out and "z: linear top-1" in out


def test_load_a_checkpoint_and_embed_a_folder(trained, tmp_path):
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    for i in range(3):
        write_png(torch.randint(0, 256, (3, 40 + 8 * i, 36), dtype=torch.uint8), str(folder / f"img{i}.png"))
    out = run(str(REPO / "examples" / "embed_folder.py"), str(trained), "photos", "--out", "emb.pt", cwd=tmp_path)
    saved = torch.load(tmp_path / "emb.pt", weights_only=True)
    assert len(saved["paths"]) == 3 and saved["embeddings"].shape == (3, 64)  # h of the tiny ResNet (width 8)
    assert torch.isfinite(saved["embeddings"]).all() and "nearest to img0.png" in out


def test_the_load_handle(trained):
    import simclr
    from simclr.errors import UserError

    model = simclr.load(trained)
    assert (model.kind, model.method, model.representations) == ("pretraining", "SimCLR", ["h", "head_1", "z"])
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    h = model.embed(images)
    assert h.shape == (5, model.encoder.feature_dim)
    assert torch.allclose(h, model.embed(images.float() / 255), atol=1e-5)  # uint8 and float [0, 1] agree
    z = model.embed(images, "z", batch_size=2)
    with torch.no_grad():
        expected = model.model.head(h)
    assert z.shape == (5, 8) and torch.allclose(z, expected, atol=1e-5)
    with pytest.raises(UserError, match="has no representation 'logits'"):
        model.embed(images, "logits")


def readme_python() -> str:
    """The Python block of the README's "From Python" section."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## From Python") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("\n```", start)]


def test_the_readme_python_block_runs(tmp_path):
    """The README's block, at a tiny size: its config names, calls and attributes are the library's."""
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    tiny = ["--trainer.max_steps", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", "run", "--checkpoint.dirpath", "run/checkpoints",
            "--data.init_args.root", str(root), "--data.init_args.batch_size", "8",
            "--model.encoder.init_args.stage_widths", "[4, 8, 8, 16]"]  # fmt: skip
    code = readme_python()
    sized = code.replace('"trainer/cpu_demo"])', f'"trainer/cpu_demo", *{tiny!r}])')
    sized = sized.replace("label_fraction=0.01, max_steps=300)", 'label_fraction=0.5, max_steps=2, device="cpu")')
    assert sized.count("*[") == 1 and "max_steps=2" in sized  # the block still has the calls this test sizes
    script = tmp_path / "readme.py"
    script.write_text(sized + "\nprint('h', tuple(h.shape), 'rows', [r.representation for r in rows])\n")
    out = run(str(script), cwd=tmp_path)
    assert "h (1, 16) rows ['h']" in out
    assert (tmp_path / "run" / "checkpoints" / "finetune" / "finetune.json").is_file()
