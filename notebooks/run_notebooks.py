"""Execute notebooks end to end: `make notebooks` runs the four in place at the sizes their parameter cells set,
the tests (tests/test_notebooks.py) run each on a copy at a tiny size. Overrides go in a cell tagged
`injected-parameters` right after the cell tagged `parameters` (papermill's convention), replacing any such cell
a previous run left.

    python notebooks/run_notebooks.py                          # every notebook here, in place
    python notebooks/run_notebooks.py --root /data/fmnist notebooks/h_vs_z.ipynb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
INJECTED = "injected-parameters"


def with_parameters(nb, **params) -> None:
    """Put `params` (name -> Python value) in a cell tagged INJECTED after the cell tagged `parameters`."""
    nb.cells = [c for c in nb.cells if INJECTED not in c.metadata.get("tags", [])]
    if not params:
        return
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            source = "# Parameters given to this run\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
            injected = nbformat.v4.new_code_cell(source)
            injected.metadata["tags"] = [INJECTED]
            nb.cells.insert(i + 1, injected)
            return
    raise ValueError("the notebook has no cell tagged 'parameters'")


def execute(nb, cwd: str | Path, timeout: int | None = None):
    """Runs every cell of `nb` (in place) with `cwd` as the working directory; returns it."""
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    parser.add_argument("--root", help="the Fashion-MNIST folder (default: each notebook's own `root`)")
    args = parser.parse_args(argv)
    repo = HERE.parent
    for path in args.notebooks or sorted(HERE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        with_parameters(nb, **({"root": str(Path(args.root).resolve())} if args.root else {}))
        print(f"running {path} ...", flush=True)
        execute(nb, cwd=repo)  # outputs (runs/...) land in the repository's runs/, as from the command line
        nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
