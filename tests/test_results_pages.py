"""Results pages: every page and the README's results summary are what the committed data says (re-rendered here
and compared with the file), a page is rendered from data or says it is not yet, and its tables and claims name
only variants its command runs; and the renderer with the noise rule end to end on synthetic runs written to a
copy of a page (tests/test_claims.py: a claim's outcomes)."""

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from simclr.ablation.augment_experiment import load_augment_experiment
from simclr.ablation.claims import DISAGREES, TIE
from simclr.ablation.experiments import load_experiment
from simclr.ablation.method_table import MethodRow
from simclr.ablation.noise_rule import NO_CALL
from simclr.ablation.pages import (
    NOT_YET,
    PAGES,
    README,
    draw_figures,
    is_generated,
    render_page,
    render_readme,
    replace_block,
)
from simclr.ablation.results import UNTRAINED, CompareRow
from simclr.ablation.run_data import (
    check_data_file,
    compare_rows,
    method_data,
    method_rows,
    read_run_data,
    strategy_data,
    write_run_data,
)
from simclr.ablation.strategies import load_strategies
from simclr.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# the pages rendered from committed data (every data file of the page is in docs/results/data)
GENERATED = [
    "results",
    "batch-size",
    "color-strength",
    "temperature",
    "projection-head",
    "negatives",
    "augmentation-grid",
    "methods",
]
BASELINES = {"random_h", "pixels", UNTRAINED}
BLOCK = re.compile(r"^<!-- (\S+):start -->\n.*?^<!-- \1:end -->$", re.DOTALL | re.MULTILINE)
ENV = {"threads": 2, "torch": "2.14.1", "lightning": "2.6.6", "device": "Test CPU (2 cores)",
       "date": "2027-01-05T10:00:00Z", "commit": "0123456789abcdef", "dirty": False}  # fmt: skip


def page_named(name: str):
    return next(p for p in PAGES if p.name == name)


def block(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->\n")[1].split(f"<!-- {name}:end -->")[0]


def prose(text: str) -> str:
    """The page without what its blocks hold: the hand-written part."""
    return BLOCK.sub(lambda m: m.group(1), text)


def cells(table: str) -> dict[str, list[str]]:
    """variant -> the cells of its row."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.strip().splitlines()[2:]]
    return {row[0]: row for row in rows}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_is_what_its_data_says(page):
    assert render_page(page, DOCS) == (DOCS / page.path).read_text(), f"docs/{page.path} differs: run make pages"


def test_readme_summary_is_what_the_data_says():
    assert render_readme(DOCS) == README.read_text(), "README.md's results summary differs: run make pages"
    summary = block(README.read_text(), "results-summary")
    assert [row.split("](")[1].split(")")[0] for row in summary.splitlines()[2:]] == [
        f"docs/{p.path}" for p in PAGES if p.claims
    ]


def test_pages_are_rendered_from_data_or_say_they_are_not_yet():
    assert [p.name for p in PAGES if is_generated(p, DOCS)] == GENERATED
    for page in PAGES:
        text = (DOCS / page.path).read_text()
        assert text.startswith("<!-- status:start -->\n"), f"docs/{page.path} starts with its status block"
        status = " ".join(block(text, "status").split())
        if page.name in GENERATED:
            assert NOT_YET not in text
        else:
            assert status.startswith(f"{NOT_YET}: run the command below to produce `docs/results/data/")
            assert page.command in block(text, "command")
    folder = DOCS / "results" / "data"
    stems = {p.stem for p in folder.glob("*.jsonl")} if folder.is_dir() else set()
    assert stems <= {name for page in PAGES for name in page.data}  # every data file belongs to a page


def variants_run_by(page) -> set[str]:
    """The variant names the page's command produces, from its experiment file or --methods files."""
    experiment = re.search(r"--experiment (\S+\.yaml)", page.command)
    if experiment and "compare-augs" in page.command:
        spec = load_augment_experiment(REPO / experiment.group(1))
        return {s.name for s in load_strategies(spec.strategies)}
    if experiment:
        return {v.name for v in load_experiment(REPO / experiment.group(1)).variants}
    files = re.search(r'M="([^"]+)"', page.command).group(1).replace("\\\n", " ").split()
    return {Path(f).stem for f in files if (REPO / f).is_file()}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_tables_name_only_variants_their_command_runs(page):
    names = variants_run_by(page) | BASELINES
    for table in page.tables:
        assert set(table.variants or ()) <= names
        for verdict in table.verdicts:
            reference = verdict.reference
            if isinstance(reference, str):
                assert reference in names, (table.name, verdict.label)
            elif isinstance(reference, Mapping):
                assert set(reference) | set(reference.values()) <= names, (table.name, verdict.label)


@pytest.mark.parametrize("page", [p for p in PAGES if p.claims], ids=lambda p: p.name)
def test_claims_name_only_variants_their_command_runs(page):
    names = variants_run_by(page) | BASELINES
    for claim in page.claims:
        assert {claim.row, claim.against} <= names, claim.short
        assert claim.data_of(page.data) in page.data
        assert claim.row != claim.against or claim.against_metric not in (None, claim.metric), claim.short
    assert len({c.short for c in page.claims}) == len(page.claims)  # the README tells them apart


def method_row(name: str, seed: int, linear: float, knn: float, steps: int = 300, batch: int = 128) -> MethodRow:
    return MethodRow(name, "SimCLR", seed, linear, knn, 5.0, steps, 0.1 * batch / 128, 30.0, None, batch)


def batch_size_runs() -> list[MethodRow]:
    """Three seeds a row (one a seed of spread 0.1 points), b512_equal_images with two seeds only."""
    rows = []
    for seed in range(3):
        d = 0.001 * seed
        rows += [
            method_row("b32_300steps", seed, 0.8132 + d, 0.7312 + d, 300, 32),  # 0.64 points below b128: a call
            method_row("b32_equal_images", seed, 0.8195 + d, 0.7530 + d, 1200, 32),  # 0.01 below: a tie
            method_row("b128_300steps", seed, 0.8196 + d, 0.7538 + d, 300, 128),  # the reference
            method_row("b512_300steps", seed, 0.8233 + d, 0.7569 + d, 300, 512),
            method_row("b4096_cached_equal_images", seed, 0.8133 + d, 0.7469 + d, 38, 4096),  # 1 point below b512
        ]
        if seed < 2:
            rows.append(method_row("b512_equal_images", seed, 0.8099 + d, 0.7513 + d, 75, 512))
        rows += [MethodRow("random_h", "SimCLR", seed, 0.7948 + d, 0.7164 + d, None, 0, None, 5.0),
                 MethodRow("pixels", "-", seed, 0.8035 + d, 0.7725 + d, None, 0, None, 1.0)]  # fmt: skip
    return rows


def test_a_page_rendered_from_synthetic_runs(tmp_path):
    page, docs = page_named("batch-size"), tmp_path / "docs"
    (docs / "results").mkdir(parents=True)
    shutil.copy(DOCS / page.path, docs / page.path)
    source = {"command": "simclr compare", "experiment": "configs/experiments/batch_size.yaml", "methods": None,
              "fit_args": []}  # fmt: skip
    runs = batch_size_runs()
    path = write_run_data(method_data(runs, ENV, source), docs / "results" / "data" / "batch-size.jsonl")
    data = read_run_data(path)
    assert method_rows(data) == runs  # the file keeps every figure of the runs
    assert data[0]["pairs_seen"] == 9600 and data[0]["commit"] == "0123456789abcdef" and not data[0]["baseline"]
    assert is_generated(page, docs)

    text = render_page(page, docs)
    assert prose(text) == prose((DOCS / page.path).read_text())  # the hand-written part is left alone
    assert NOT_YET not in text
    assert "rendered by `make pages` from `docs/results/data/batch-size.jsonl`" in " ".join(text.split())
    runs_block = " ".join(block(text, "runs:batch-size").split())
    assert "23 runs, 8 rows x seeds 0, 1, 2 (not every row has every seed); run on Test CPU (2 cores)" in runs_block
    assert "2 torch threads, torch 2.14.1, lightning 2.6.6, on 2027-01-05, at commit 0123456;" in runs_block
    table = block(text, "table:batch-size")
    assert table.splitlines()[0] == (
        "| variant | B | steps | pairs seen | n | linear top-1 h (%) | kNN top-1 h (%) | "
        "linear h vs b128_300steps | kNN h vs b128_300steps | linear h vs B 512 at equal images |"
    )
    rows = cells(table)
    assert list(rows) == ["b32_300steps", "b32_equal_images", "b128_300steps", "b512_equal_images",
                          "b512_300steps", "b4096_cached_equal_images", "random_h", "pixels"]  # fmt: skip
    assert rows["b32_300steps"][:7] == ["b32_300steps", "32", "300", "9 600", "3", "81.42 ± 0.10", "73.22 ± 0.10"]
    assert rows["b128_300steps"][-3:-1] == ["reference", "reference"]
    assert rows["b32_300steps"][-3].startswith("lower (p") and rows["b512_300steps"][-3].startswith("higher (p")
    assert rows["b32_equal_images"][-3].startswith("tie (p")  # 0.01 points with a spread of 0.1: a tie
    assert rows["b512_equal_images"][4] == "2" and rows["b512_equal_images"][-3:-1] == [NO_CALL, NO_CALL]
    assert rows["b4096_cached_equal_images"][-1].startswith("lower (p")  # against b512_300steps, not b128
    assert rows["b512_300steps"][-1] == "reference"
    assert rows["random_h"][1:5] == ["-", "0", "-", "3"]  # no batch, no steps

    claims = block(text, "claims:batch-size").split("\n- ")
    assert [c.removeprefix("- ").split("**")[1] for c in claims] == [TIE, NO_CALL, DISAGREES]
    assert " ".join(claims[2].split()).endswith(
        "b4096_cached_equal_images 81.43 vs b512_300steps 82.43 on linear top-1 h (%), p < 0.001"
    )
    summary = block(render_readme(docs, README), "results-summary").splitlines()
    assert summary[2].startswith("| [results](docs/results.md) | not yet measured from stored data")
    assert summary[3] == (
        "| [batch size](docs/results/batch-size.md) | | B 4096 (gradient cache) above B 512 at equal images | "
        f"B 128 above B 32 at equal images; B 512 above B 128 at equal images ({NO_CALL}) |"
    )
    assert summary[4] == (
        "| [color strength](docs/results/color-strength.md) | not yet measured from stored data (the page's command "
        "writes it) | | |"
    )

    (docs / page.path).write_text(text)
    assert render_page(page, docs) == text  # rendering again changes nothing
    (figure,) = draw_figures(page, docs)
    assert figure == docs / "results" / "batch-size.png" and figure.read_bytes()[:4] == b"\x89PNG"


def test_the_grid_and_its_verdicts_from_synthetic_runs(tmp_path):
    page, docs = page_named("augmentation-grid"), tmp_path / "docs"
    (docs / "results").mkdir(parents=True)
    shutil.copy(DOCS / page.path, docs / page.path)
    runs = []
    for seed in range(3):
        d = 0.001 * seed
        for name, parts, h in [
            (UNTRAINED, [], 0.764),
            ("crop", ["crop"], 0.778),
            ("color", ["color"], 0.768),
            ("crop+color", ["crop", "color"], 0.791),
            ("color+crop", ["color", "crop"], 0.779),
        ]:
            runs.append(CompareRow(name, parts, h + d, h - 0.01 + d, None if not parts else 3.0, None if not parts
                                   else 0.5, None if not parts else 3.1, 5.0, seed, 96 if parts else 0,
                                   128 if parts else None))  # fmt: skip
    source = {"command": "simclr compare-augs", "experiment": None, "strategies": "s.yaml", "fit_args": []}
    write_run_data(strategy_data(runs, ENV, source), docs / "results" / "data" / "augmentation-grid.jsonl")
    assert compare_rows(read_run_data(docs / "results" / "data" / "augmentation-grid.jsonl")) == runs

    text = render_page(page, docs)
    pairs = block(text, "table:augmentation-grid-pairs").split("\n\n", 1)[1].splitlines()  # after its caption
    assert pairs == ["| 1st \\ 2nd | crop | color | mean of pairs |", "|---|---:|---:|---:|",
                     "| crop | 77.90 | 79.20 | 79.20 |", "| color | 78.00 | 76.90 | 78.00 |"]  # fmt: skip
    rows = cells(block(text, "table:augmentation-grid").split("\n\n", 1)[1])
    assert list(rows) == ["crop", "color", "crop+color", "color+crop", UNTRAINED]  # trained rows, then the baseline
    assert rows[UNTRAINED][-2:] == ["reference", "lower (p < 0.001)"]
    assert rows["crop"][-1] == "reference"  # the single block with the highest mean
    assert rows["crop+color"][-1].startswith("higher (p") and rows["color"][-1].startswith("lower (p")
    assert rows["color+crop"][-1].startswith("tie (p")  # 0.1 points above crop, spread 0.1: a tie
    (figure,) = draw_figures(page, docs)
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_a_page_without_its_markers_is_an_error():
    with pytest.raises(ValueError, match=r"needs one pair of lines <!-- table:x:start -->"):
        replace_block("text\n", "table:x", "| a |\n", "page.md")


def test_the_data_file_option_refuses_what_it_must_not_replace(tmp_path):
    data = write_run_data(method_data(batch_size_runs()[:2], ENV, {"command": "simclr compare"}), tmp_path / "a.jsonl")
    check_data_file(data, [], [], overwrite=False)  # a data file already: replaced
    check_data_file(tmp_path / "new" / "b.jsonl", [], [], overwrite=False)  # new
    notes = tmp_path / "notes.txt"
    notes.write_text("not a run\n")
    with pytest.raises(UserError, match="is not a data file of runs"):
        check_data_file(notes, [], [], overwrite=False)
    check_data_file(notes, [], [], overwrite=True)
    with pytest.raises(UserError, match="is a folder"):
        check_data_file(tmp_path, [], [], overwrite=True)
    with pytest.raises(UserError, match="is --experiment"):
        check_data_file(data, [("--experiment", data)], [], overwrite=True)
    with pytest.raises(UserError, match="own runs.jsonl"):
        check_data_file(tmp_path / "out" / "runs.jsonl", [], [tmp_path / "out" / "runs.jsonl"], overwrite=True)
