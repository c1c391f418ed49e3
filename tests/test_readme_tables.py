"""The README's demo table (block `table:demo`) is rendered from the demo page's data file, like the page's own
table, and is left empty while that file is missing."""

import shutil
from pathlib import Path

from simclr.ablation.method_table import MethodRow
from simclr.ablation.pages import PAGES, README, render_page, render_readme
from simclr.ablation.run_data import method_data, write_run_data

DOCS = Path(__file__).resolve().parents[1] / "docs"
ENV = {"threads": 1, "torch": "2.14.1", "lightning": "2.6.6", "device": "Test CPU (2 cores)",
       "date": "2027-01-05T10:00:00Z", "commit": "0123456789abcdef", "dirty": False}  # fmt: skip
SOURCE = {"command": "simclr compare", "experiment": "configs/experiments/demo.yaml", "methods": None, "fit_args": []}


def block(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->\n")[1].split(f"<!-- {name}:end -->")[0]


def demo_runs() -> list[MethodRow]:
    """h 3 points above z and 2 above random_h at every seed, with a spread of 0.1 points."""
    rows = []
    for seed in range(3):
        d = 0.001 * seed
        rows += [MethodRow("demo", "SimCLR", seed, 0.87 + d, 0.80 + d, 5.0, 800, 0.2, 300.0, 0.84 + d, 128),
                 MethodRow("random_h", "SimCLR", seed, 0.85 + d, 0.72 + d, None, 0, None, 20.0),
                 MethodRow("pixels", "-", seed, 0.843 + d, 0.77 + d, None, 0, None, 5.0)]  # fmt: skip
    return rows


def test_the_readme_demo_table_is_the_pages_table(tmp_path):
    docs = tmp_path / "docs"
    (docs / "results" / "data").mkdir(parents=True)
    shutil.copy(DOCS / "results.md", docs / "results.md")
    empty = block(render_readme(docs, README), "table:demo")
    assert empty == ""  # no data file: no numbers

    write_run_data(method_data(demo_runs(), ENV, SOURCE), docs / "results" / "data" / "demo.jsonl")
    table = block(render_readme(docs, README), "table:demo")
    (page,) = [p for p in PAGES if p.path == "results.md"]
    assert table == block(render_page(page, docs), "table:demo")
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert list(rows) == ["demo", "random_h", "pixels"]
    assert rows["demo"].startswith("| demo | 3 | 87.10 ± 0.10 | 84.10 ± 0.10 | 80.10 ± 0.10 | higher (p")
    assert "| reference |" in rows["random_h"]
    summary = block(render_readme(docs, README), "results-summary")
    assert "| [results](docs/results.md) | h above z | | |" in summary
