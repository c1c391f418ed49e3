"""Results pages rendered from committed data: each page's tables (and figures) are computed from the data
files its command wrote (`docs/results/data/<name>.jsonl`, `simclr.ablation.run_data`), with the noise rule of
`simclr.ablation.noise_rule` applied, and written between marker comments in the page; the prose outside the
markers is hand-written. The README's results summary (its block `results-summary`, `simclr.ablation.results_summary`)
and the tables it shows (`README_TABLES`, blocks `table:<name>`) are rendered from the same data.

    python -m simclr.ablation.pages render [PAGE ...]   # (make pages) rewrite the blocks, figures and README
    python -m simclr.ablation.pages check               # exit status 1 if a page or the README differs

A block is the text between `<!-- ID:start -->` and `<!-- ID:end -->`, each marker on its own line. Every page
has the blocks `status` (at the top: rendered from which data, or "Not yet regenerated from stored data"),
`command` (the command that writes its data), `noise-rule`, one `runs:<data>` per data file (what ran: seeds,
device, threads, versions, date, commit, wall time), one `table:<name>` per table and, where the page tests
the papers' claims, `claims:<name>` (`simclr.ablation.claims`). A table or runs block whose data file is
missing renders empty; a claim whose data file (or one of its two rows) is missing reads "not yet measured".
"""

from __future__ import annotations

import re
import statistics
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from simclr.ablation.claims import render_claims
from simclr.ablation.noise_rule import RULE, verdict
from simclr.ablation.page_specs import DATA_FOLDER, FACT_LABELS, PAGES, Metric, Page, Summary, Table, Verdict
from simclr.ablation.results_summary import render_summary
from simclr.ablation.run_data import compare_rows, method_rows, read_run_data

REPO = Path(__file__).resolve().parents[2]  # the checkout: docs/ and configs/ are below it
README = REPO / "README.md"
NOT_YET = "Not yet regenerated from stored data"
README_TABLES = ("demo",)  # tables the README shows too, in its blocks `table:<name>`


def summaries(rows: Sequence[dict], where: str = "the data") -> dict[str, Summary]:
    """variant -> its runs, in first-seen order; a ValueError for a (variant, seed) given twice."""
    out: dict[str, Summary] = {}
    seen = set()
    for row in rows:
        key = (row["variant"], row["seed"])
        if key in seen:
            raise ValueError(f"{where} has two rows of variant {key[0]!r} seed {key[1]}; keep one run per seed")
        seen.add(key)
        out.setdefault(row["variant"], Summary(row["variant"])).runs.append(row)
    return out


def mean_sd(values: Sequence[float], metric: Metric) -> str:
    """ "mean ± sd" of the values in the metric's units; one value alone; "-" for none."""
    if not values:
        return "-"
    mean = metric.scale * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{metric.digits}f}"
    return f"{mean:.{metric.digits}f} ± {metric.scale * statistics.stdev(values):.{metric.digits}f}"


def reference_of(v: Verdict, variant: str, found: Mapping[str, Summary]) -> str | None:
    """The variant `variant` is compared with under `v` (itself for a same-row verdict), or None."""
    if v.reference is None:
        return variant
    if isinstance(v.reference, str):
        return v.reference
    if isinstance(v.reference, Mapping):
        return v.reference.get(variant)
    return v.reference(found)


def verdict_cell(v: Verdict, variant: str, found: Mapping[str, Summary]) -> str:
    reference = reference_of(v, variant, found)
    if reference is None:
        mapped = isinstance(v.reference, Mapping) and variant in v.reference.values()
        return "reference" if mapped else "-"
    if reference == variant and v.reference is not None:
        return "reference"
    if reference not in found:
        raise ValueError(f"verdict {v.label!r} compares with {reference!r}, which the data has no rows of")
    values, base = found[variant].values(v.metric), found[reference].values(v.against or v.metric)
    return verdict(base, values) if values and base else "-"


def render_table(table: Table, rows: Sequence[dict], where: str = "the data") -> str:
    """The markdown of one table block from the rows of its data file."""
    found = summaries(rows, where)
    caption = f"{textwrap.fill(table.caption, 110)}\n\n" if table.caption else ""
    if table.pairs:
        from simclr.ablation.plots import format_pair_table
        from simclr.ablation.results import mean_over_seeds

        return caption + format_pair_table(mean_over_seeds(compare_rows(rows)))
    names = list(table.variants) if table.variants is not None else [n for n, s in found.items() if not s.baseline]
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"{where} has no rows of variant {missing[0]!r}, which table {table.name!r} lists")
    if table.baselines:
        names += [n for n, s in found.items() if s.baseline]
    header = ["variant", *(FACT_LABELS[f] for f in table.facts), "n", *(m.label for m in table.metrics),
              *(v.label for v in table.verdicts)]  # fmt: skip
    numbers = len(table.facts) + 1 + len(table.metrics)  # right-aligned columns
    align = ["---", *["---:"] * numbers, *["---"] * len(table.verdicts)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for name in names:
        s = found[name]
        cells = [name, *(s.fact(f) for f in table.facts), str(len(s.runs))]
        cells += [mean_sd(s.values(m.key), m) for m in table.metrics]
        cells += [verdict_cell(v, name, found) for v in table.verdicts]
        lines.append("| " + " | ".join(cells) + " |")
    return caption + "\n".join(lines) + "\n"


def _listed(values: Sequence) -> str:
    return ", ".join(str(v) for v in values)


def render_runs(name: str, rows: Sequence[dict]) -> str:
    """What ran, from the rows: count, seeds, device, threads, versions, dates, commit and total wall time."""
    found = summaries(rows, name)
    seeds = sorted({r["seed"] for r in rows}, key=str)
    every = all(sorted((r["seed"] for r in s.runs), key=str) == seeds for s in found.values())
    commits = list(dict.fromkeys((r.get("commit") or "")[:7] or "none recorded" for r in rows))
    dirty = any(r.get("dirty") for r in rows)
    dates = sorted({str(r.get("date", ""))[:10] for r in rows})
    minutes = sum(r.get("seconds") or 0.0 for r in rows) / 60
    text = (
        f"Rendered from `docs/{DATA_FOLDER}/{name}.jsonl`: {len(rows)} runs, {len(found)} rows x seeds "
        f"{_listed(seeds)}{'' if every else ' (not every row has every seed)'}; run on "
        f"{_listed(dict.fromkeys(r.get('device') for r in rows))} with "
        f"{_listed(sorted({r.get('threads') for r in rows}, key=str))} torch threads, torch "
        f"{_listed(dict.fromkeys(r.get('torch') for r in rows))}, lightning "
        f"{_listed(dict.fromkeys(r.get('lightning') for r in rows))}, on {_listed(dates)}, at commit "
        f"{_listed(commits)}{' with uncommitted changes' if dirty else ''}; {minutes:.1f} min of wall time in all."
    )
    return textwrap.fill(text, 110, break_long_words=False, break_on_hyphens=False) + "\n"


def data_path(name: str, docs: Path) -> Path:
    return docs / DATA_FOLDER / f"{name}.jsonl"


def render_status(page: Page, present: Sequence[str]) -> str:
    missing = [f"`docs/{DATA_FOLDER}/{n}.jsonl`" for n in page.data if n not in present]
    if missing:
        text = (
            f"{NOT_YET}: run the command below to produce {' and '.join(missing)}, then `make pages`. Until "
            f"then the results on this page are copied by hand from runs whose per-run data was not kept, and "
            f"no difference in them is called under the noise rule."
        )
    else:
        files = " and ".join(f"`docs/{DATA_FOLDER}/{n}.jsonl`" for n in page.data)
        text = (
            f"The tables between marker comments are rendered by `make pages` from {files}, written by the "
            f"command below; the prose around them is written by hand."
        )
    return textwrap.fill(text, 110, break_long_words=False, break_on_hyphens=False) + "\n"


def render_blocks(page: Page, docs: Path) -> dict[str, str]:
    """Block id -> its text, from the page's data files in `docs`."""
    data = {n: read_run_data(data_path(n, docs)) for n in page.data if data_path(n, docs).is_file()}
    blocks = {
        "status": render_status(page, list(data)),
        "command": f"```bash\n{page.command}\n```\n",
        "noise-rule": textwrap.fill(RULE, 110, break_long_words=False, break_on_hyphens=False) + "\n",
    }
    for name in page.data:
        blocks[f"runs:{name}"] = render_runs(name, data[name]) if name in data else ""
    for table in page.tables:
        where = f"docs/{DATA_FOLDER}/{table.data}.jsonl"
        blocks[f"table:{table.name}"] = render_table(table, data[table.data], where) if table.data in data else ""
    if page.claims:
        found = {n: summaries(rows, f"docs/{DATA_FOLDER}/{n}.jsonl") for n, rows in data.items()}
        blocks[f"claims:{page.name}"] = render_claims(page.claims, page.data, found)
    return blocks


def page_summaries(page: Page, docs: Path = REPO / "docs") -> dict[str, dict[str, Summary]]:
    """Data file stem -> its variants' summaries, for the page's data files that exist in `docs`."""
    paths = {n: data_path(n, docs) for n in page.data}
    return {n: summaries(read_run_data(path), f"docs/{DATA_FOLDER}/{n}.jsonl") for n, path in paths.items()
            if path.is_file()}  # fmt: skip


def render_readme(docs: Path = REPO / "docs", readme: Path = README) -> str:
    """The README's text with its block `results-summary` rendered from every page's data, and its blocks
    `table:<name>` from the data of the pages' tables named in `README_TABLES` (not written)."""
    summary = render_summary([(page, page_summaries(page, docs)) for page in PAGES])
    text = replace_block(readme.read_text(), "results-summary", summary, str(readme))
    for table in (t for page in PAGES for t in page.tables if t.name in README_TABLES):
        path = data_path(table.data, docs)
        rows = render_table(table, read_run_data(path), str(path)) if path.is_file() else ""
        text = replace_block(text, f"table:{table.name}", rows, str(readme))
    return text


def replace_block(text: str, block: str, content: str, where: str) -> str:
    """`text` with the lines between `<!-- block:start -->` and `<!-- block:end -->` replaced by `content`."""
    pattern = re.compile(rf"^(<!-- {re.escape(block)}:start -->\n)(.*?)^(<!-- {re.escape(block)}:end -->)$",
                         re.DOTALL | re.MULTILINE)  # fmt: skip
    found = pattern.findall(text)
    if len(found) != 1:
        raise ValueError(
            f"{where} needs one pair of lines <!-- {block}:start --> and <!-- {block}:end --> (found {len(found)})"
        )
    return pattern.sub(lambda m: m.group(1) + content + m.group(3), text)


def render_page(page: Page, docs: Path = REPO / "docs") -> str:
    """The page's text with every block rendered from its data files (the page file itself is not written)."""
    path = docs / page.path
    text = path.read_text()
    for block, content in render_blocks(page, docs).items():
        text = replace_block(text, block, content, str(path))
    return text


def is_generated(page: Page, docs: Path = REPO / "docs") -> bool:
    """Whether every data file of the page exists."""
    return all(data_path(n, docs).is_file() for n in page.data)


def draw_figures(page: Page, docs: Path = REPO / "docs") -> list[Path]:
    """Redraws the page's figures whose data files exist (the plots of simclr compare / compare-augs)."""
    import matplotlib.pyplot as plt

    from simclr.ablation.method_table import method_bar_chart
    from simclr.ablation.plots import bar_chart, pair_heatmap, pair_matrix
    from simclr.ablation.results import mean_over_seeds

    written = []
    for figure in page.figures:
        path = data_path(figure.data, docs)
        if not path.is_file():
            continue
        rows = read_run_data(path)
        if all("parts" in r for r in rows):  # simclr compare-augs
            means = mean_over_seeds(compare_rows(rows))
            fig = pair_heatmap(means, docs / figure.path, title=figure.title) if pair_matrix(means)[0] else (
                bar_chart(means, docs / figure.path, title=figure.title))  # fmt: skip
        else:
            fig = method_bar_chart(method_rows(rows), docs / figure.path, title=figure.title)
        plt.close(fig)
        written.append(docs / figure.path)
    return written


def pages_named(names: Sequence[str]) -> list[Page]:
    known = {p.name: p for p in PAGES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown page {unknown[0]!r}; pages: {', '.join(known)}")
    return [known[n] for n in names] if names else list(PAGES)


def main(argv: Sequence[str] | None = None) -> int:
    """`render [PAGE ...]`: rewrite the pages' blocks and figures; `check [PAGE ...]`: 1 if any page differs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("render", "check"):
        print("usage: python -m simclr.ablation.pages render|check [PAGE ...]", file=sys.stderr)
        return 2
    pages, docs = pages_named(args[1:]), REPO / "docs"
    stale = []
    for page in pages:
        text, path = render_page(page, docs), docs / page.path
        if args[0] == "check":
            if text != path.read_text():
                stale.append(page.path)
            continue
        if text != path.read_text():
            path.write_text(text)
        figures = draw_figures(page, docs)
        state = "rendered from data" if is_generated(page, docs) else NOT_YET.lower()
        print(f"docs/{page.path}: {state}" + "".join(f", docs/{f.relative_to(docs)}" for f in figures))
    readme = render_readme(docs)
    if readme != README.read_text():
        if args[0] == "check":
            stale.append("README.md")
        else:
            README.write_text(readme)
    if args[0] == "render":
        print("README.md: results summary rendered from the pages' data")
    if stale:
        print(f"differ from their data (run make pages): {', '.join(stale)}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
