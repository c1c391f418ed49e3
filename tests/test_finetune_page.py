"""docs/finetune.md's tables (benchmarks/finetune_page.py): means, n and the noise rule's calls from a record of
`benchmarks/finetune_table.py`, the columns left out when unmeasured, the blocks between their markers, and the
page as the committed records render it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import finetune_page  # noqa: E402


def finetune_record(fractions=(0.01, 0.1), seeds=(0, 1, 2)) -> dict:
    """A record as `benchmarks/finetune_table.py` writes it without --ckpt_v2 (head_1 and distill columns None)."""
    tops = {0.01: {"scratch": [0.79, 0.80, 0.81], "probe_h": [0.76, 0.77, 0.78], "finetune_h": [0.82, 0.83, 0.84]},
            0.1: {"scratch": [0.86, 0.87, 0.85], "probe_h": [0.83, 0.84, 0.82], "finetune_h": [0.861, 0.862, 0.866]}}  # fmt: skip
    rows = [{"label_fraction": f, "seed": s, "labelled_images": int(60000 * f), "steps": 500 if f < 0.1 else 1410,
             **{c: tops[f][c][k] for c in tops[f]}, "probe_head_1": None, "finetune_head_1": None, "distill": None}
            for f in fractions for k, s in enumerate(seeds)]  # fmt: skip
    return {"benchmark": "finetune_table", "device_name": "Test CPU (2 cores)", "threads": 1, "torch": "2.0",
            "lightning": "2.1", "command": "finetune_table.py --fractions 0.01 0.1", "settings": {}, "results": rows}  # fmt: skip


def test_the_finetune_tables_render_means_n_and_calls():
    tables = finetune_page.render_tables(finetune_record(), "benchmarks/results/cpu/x.json")
    assert "| label fraction | labelled images | steps | n | scratch | probe on h | LP-FT from h |" in tables
    assert "head_1" not in tables and "distilled" not in tables  # columns no row measured are left out
    assert "| 1% | 600 | 500 | 3 | 80.00 ± 1.00 | 77.00 ± 1.00 | 83.00 ± 1.00 |" in tables
    assert "| 10% | 6000 | 1410 | 3 | 86.00 ± 1.00 | 83.00 ± 1.00 | 86.30 ± 0.26 |" in tables
    assert "| LP-FT from h vs scratch | LP-FT from h vs probe on h |" in tables
    assert "| 1% | higher (p = 0.021) | higher (p = 0.002) |" in tables
    assert "| 10% | tie (p = 0.660) | higher (p = 0.023) |" in tables
    assert "Test CPU (2 cores), 1 threads, torch 2.0, lightning 2.1; seeds [0, 1, 2]" in tables
    assert "`finetune_table.py --fractions 0.01 0.1`" in tables and "`benchmarks/results/cpu/x.json`" in tables
    two_seeds = finetune_page.render_tables(finetune_record(seeds=(0, 1)), "x.json")
    assert "| 1% | 600 | 500 | 2 | 79.50 ± 0.71 |" in two_seeds and "n < 3: no call" in two_seeds


def test_the_finetune_page_renders_between_its_markers_and_needs_them():
    start, end = finetune_page.markers("a")
    text = f"intro\n{start}\nold table\n{end}\nafter\n{finetune_page.markers('b')[0]}\nkept\n"
    records = {"a": ("a.json", finetune_record())}
    page = finetune_page.render_page(text, records)
    assert page.startswith(f"intro\n{start}\nTest top-1") and page.endswith(
        f"{end}\nafter\n<!-- finetune:b:start -->\nkept\n"
    )
    assert "old table" not in page and finetune_page.render_page(page, records) == page
    with pytest.raises(ValueError, match="finetune:c:start"):
        finetune_page.render_page(text, {"c": ("c.json", finetune_record())})
    with pytest.raises(ValueError, match="finetune:b:end"):
        finetune_page.render_page(text, records, names=("a", "b"))


def test_the_finetune_page_is_rendered_from_its_committed_data():
    """docs/finetune.md's tables are what `benchmarks/finetune_table.py --render` makes of the committed JSONs
    (blocks whose JSON is not committed yet are left as they are; every block's markers must be on the page)."""
    page = BENCHMARKS.parent / finetune_page.PAGE
    assert page.read_text() == finetune_page.render_committed()


def test_the_v2_columns_are_called_against_h_and_the_student_against_its_teacher():
    record = finetune_record(fractions=(0.01,))
    for k, row in enumerate(record["results"]):
        row.update(probe_head_1=0.78 + 0.01 * k, finetune_head_1=0.86 + 0.01 * k, distill=0.861 + 0.01 * k)
    tables = finetune_page.render_tables(record, "x.json")
    assert "| scratch | probe on h | LP-FT from h | probe on head_1 | LP-FT from head_1 | distilled student |" in tables
    assert (
        "| LP-FT from h vs scratch | LP-FT from h vs probe on h | LP-FT from head_1 vs probe on head_1 | "
        "probe on head_1 vs probe on h | LP-FT from head_1 vs LP-FT from h | distilled student vs LP-FT from head_1 |"
    ) in tables
    calls = next(line for line in tables.splitlines() if line.startswith("| 1% | higher"))
    assert calls.split(" | ")[-2:] == ["higher (p = 0.008)", "tie (p = 0.908) |"]  # head_1 vs h; student vs teacher
