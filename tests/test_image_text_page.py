"""docs/results/image-text.md's tables and claims and the README's image-text line (benchmarks/image_text_page.py):
the committed JSON renders the committed page and line, and the claims are called by the noise rule."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import image_text_page  # noqa: E402


def test_the_image_text_page_and_readme_line_are_rendered_from_the_committed_data():
    record = json.loads((REPO / "benchmarks/results/cpu/image_text.json").read_text())
    throughput_file = REPO / "benchmarks/results/cpu/image_text_throughput.json"
    throughput = json.loads(throughput_file.read_text()) if throughput_file.is_file() else None
    page = REPO / image_text_page.PAGE
    assert page.read_text() == image_text_page.render_page(page, record, throughput), "run image_text.py --render"
    readme = REPO / image_text_page.README
    assert readme.read_text() == image_text_page.render_readme(readme, record), "run image_text.py --render"


def synthetic(seeds=(0, 1, 2)) -> dict:
    """CLIP at 76%, SigLIP 0.1 above it (a tie), LiT 5 below (a call), SLIP 2 above on zero-shot and the probe."""
    shift = {"clip": 0.0, "siglip": 0.001, "lit": -0.05, "slip": 0.02}
    rows = [{"variant": v, "seed": s, "zeroshot_top1": 0.76 + d + 0.002 * s, "h_linear_top1": 0.88 + d + 0.002 * s}
            for s in seeds for v, d in shift.items()]  # fmt: skip
    return {"results": rows}


def test_the_claims_are_called_by_the_noise_rule():
    record = synthetic()
    outcomes = [image_text_page.judge(record, c)[0] for c in image_text_page.CLAIMS]
    assert outcomes == ["tie", "disagrees", "agrees", "agrees"]
    claims = image_text_page.render_claims(record).splitlines()
    assert claims[1].startswith("- **disagrees**: A locked pretrained image tower")
    assert "LiT (locked SimCLR tower) 71.20 vs CLIP 76.20 on zeroshot_top1, lower (p" in claims[1]
    line = image_text_page.render_line(record)
    assert "(3 seeds," in line and "76.20 ± 0.20% (chance 10%)" in line
    assert line.endswith("tie: SigLIP above CLIP at B 128; disagrees: LiT above CLIP; agrees: SLIP above CLIP "
                         "zero-shot, SLIP above CLIP on the probe.")  # fmt: skip


def test_two_seeds_make_no_call():
    record = synthetic(seeds=(0, 1))
    assert {image_text_page.judge(record, c)[0] for c in image_text_page.CLAIMS} == {"n < 3: no call"}


def test_a_page_without_the_claims_markers_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- image-text-tables:start -->\n<!-- image-text-tables:end -->\n")
    with pytest.raises(ValueError, match="image-text-claims:start"):
        record = {**synthetic(), "device_name": "Test CPU", "threads": 1, "torch": "2.0", "lightning": "2.1",
                  "settings": {"date": "2027-01-05", "commit": "0123456"}}  # fmt: skip
        image_text_page.render_page(page, record, None)
