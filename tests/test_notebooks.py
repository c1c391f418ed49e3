"""Notebooks run end to end (tiny parameters, through notebooks/run_notebooks.py as `make notebooks` runs them
at full size) and fail the suite on any error."""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import fakedata

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
sys.path.insert(0, str(FOLDER))
from run_notebooks import execute, with_parameters  # noqa: E402  (a script beside the notebooks)

NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
TINY_WIDTHS = [4, 8, 8, 16]  # a genuinely tiny encoder: h is 16-d
TINY = {  # per-notebook CI budgets, on top of root and n_images
    "compare_augmentations.ipynb": dict(
        transforms=["crop", "color"],
        stage_widths=TINY_WIDTHS,
        batch_size=16,
        train_images=64,
        max_steps=2,
        probe_images=64,
        val_images=32,
        test_images=64,
        probe_max_iter=5,
        out="runs",
    ),
    "compare_methods.ipynb": dict(
        stage_widths=TINY_WIDTHS,
        batch_size=8,
        train_images=32,
        max_steps=2,
        probe_images=32,
        test_images=16,
        probe_max_iter=3,
        out="runs",
    ),
    "h_vs_z.ipynb": dict(
        stage_widths=TINY_WIDTHS,
        batch_size=16,
        pretrain_steps=2,
        probe_images=128,
        test_images=128,
        task_images=64,
        probe_max_iter=5,
        out="runs",
    ),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    root = os.environ.get("SIMCLR_FASHION_MNIST") or str(fakedata.write_fashion_mnist(tmp_path / "fmnist"))
    with_parameters(nb, root=root, n_images=4, **TINY.get(path.name, {}))
    execute(nb, cwd=tmp_path, timeout=900)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if "stage_widths" in TINY.get(path.name, {}):  # the override reached the model: CI ran the tiny encoder
        assert f"encoder: h is {TINY_WIDTHS[-1]}-d" in text
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert images, "the notebook drew no figure"
    assert "date: " in text and "device: " in text  # the run's machine and date, printed at the top
