"""Comparison plots and the Figure 5 matrix: values land in the right cells, PNGs are written."""

import math

import pytest

from simclr.ablation.plots import bar_chart, format_pair_table, pair_heatmap, pair_matrix
from simclr.ablation.results import UNTRAINED, CompareRow


def row(name: str, parts: list[str], h: float) -> CompareRow:
    return CompareRow(name, parts, h, h - 0.01, 3.0, 0.5, 3.0, 1.0)


ROWS = [
    CompareRow(UNTRAINED, [], 0.5, 0.5, None, None, None, 1.0),
    row("crop", ["crop"], 0.70),
    row("color", ["color"], 0.60),
    row("crop+color", ["crop", "color"], 0.80),
    row("color+crop", ["color", "crop"], 0.75),
    row("crop+rotate", ["crop", "rotate"], 0.65),
    row("crop+color+blur", ["crop", "color", "blur"], 0.9),  # three parts: not in the matrix
]


def test_pair_matrix_cells():
    names, matrix = pair_matrix(ROWS)
    assert names == ["crop", "color", "rotate"]
    assert matrix[0][:2] == [0.70, 0.80] and matrix[1][:2] == [0.75, 0.60]  # rows: first transform; diagonal: singles
    assert matrix[0][2] == 0.65 and all(math.isnan(v) for v in (matrix[1][2], matrix[2][0], matrix[2][2]))
    assert pair_matrix(ROWS, "z_top1")[1][0][1] == pytest.approx(0.79)
    assert pair_matrix(ROWS[:3]) == ([], [])  # no pairs, no matrix


def test_pair_table_markdown():
    table = format_pair_table(ROWS)
    lines = table.splitlines()
    assert lines[0] == "| 1st \\ 2nd | crop | color | rotate | mean of pairs |"
    assert lines[2] == "| crop | 70.00 | 80.00 | 65.00 | 72.50 |"
    assert lines[4] == "| rotate | - | - | - | - |"


def test_plots_write_png(tmp_path):
    pair_heatmap(ROWS, tmp_path / "heatmap.png")
    bar_chart(ROWS, tmp_path / "sub" / "bars.png", metrics=("h_top1", "z_top1", "contrastive_top1"))
    for name in ("heatmap.png", "sub/bars.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    with pytest.raises(ValueError, match="ordered pairs"):
        pair_heatmap(ROWS[:3], tmp_path / "none.png")
