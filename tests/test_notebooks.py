"""Notebooks run end to end (tiny parameters) and fail the suite on any error."""

import os
from pathlib import Path

import nbformat
import pytest
from helpers import fakedata
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
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


def with_parameters(nb, **params) -> None:
    """Append overrides after the cell tagged `parameters` (papermill's convention)."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
            return
    raise AssertionError("notebook has no cell tagged 'parameters'")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    root = os.environ.get("SIMCLR_FASHION_MNIST") or str(fakedata.write_fashion_mnist(tmp_path / "fmnist"))
    with_parameters(nb, root=root, n_images=4, **TINY.get(path.name, {}))
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
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
