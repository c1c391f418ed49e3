"""docs/finetune.md's measured tables, rendered from the JSON records of `benchmarks/finetune_table.py`.

Each block of the page between `<!-- finetune:<name>:start -->` and `<!-- finetune:<name>:end -->` is replaced
by the tables of one committed record (`BLOCKS`): per label fraction the labelled images, the steps of each
trained run, n (seeds) and the mean ± standard deviation over the seeds of every measured column, then the
noise rule's calls (`simclr.ablation.noise_rule`), then the machine, the versions and the record's command.
A block whose record is not committed is left as it is.

    python benchmarks/finetune_table.py --render
"""

from __future__ import annotations

import json
from pathlib import Path

from common import REPO, mean_std

from simclr.ablation import noise_rule

PAGE = Path("docs/finetune.md")
BLOCKS = [  # (marker name, record), in page order
    ("fashion-mnist", "benchmarks/results/cpu/finetune_table_lpft.json"),
    ("folder", "benchmarks/results/cpu/finetune_table_folder.json"),
    ("simclr-v2", "benchmarks/results/cpu/finetune_table_v2.json"),
]
COLUMNS = ["scratch", "probe_h", "finetune_h", "probe_head_1", "finetune_head_1", "distill"]
LABELS = {"scratch": "scratch", "probe_h": "probe on h", "finetune_h": "LP-FT from h",
          "probe_head_1": "probe on head_1", "finetune_head_1": "LP-FT from head_1", "distill": "distilled student"}  # fmt: skip
CALLS = [  # (row, against): the row's call against the reference
    ("finetune_h", "scratch"),
    ("finetune_h", "probe_h"),
    ("finetune_head_1", "probe_head_1"),
    ("probe_head_1", "probe_h"),  # the frozen middle layer against frozen h
    ("finetune_head_1", "finetune_h"),  # SimCLR v2's layer against v1's, same pretraining run
    ("distill", "finetune_head_1"),  # the student against its own teacher
]


def by_fraction(rows: list[dict]) -> dict[float, list[dict]]:
    """The table rows (those with a label fraction) grouped by label fraction, in the record's order."""
    groups: dict[float, list[dict]] = {}
    for row in rows:
        if "label_fraction" in row:
            groups.setdefault(row["label_fraction"], []).append(row)
    return groups


def measured(group: list[dict], column: str) -> list[float]:
    """The column's top-1 over the group's seeds, leaving out runs that did not measure it."""
    return [r[column] for r in group if r.get(column) is not None]


def calls(group: list[dict], pairs: list[tuple[str, str]]) -> list[str]:
    """`noise_rule.verdict` of each (row, against) pair over the group's seeds; "-" where either is unmeasured."""
    return [
        noise_rule.verdict(measured(group, b), measured(group, a)) if measured(group, a) and measured(group, b) else "-"
        for a, b in pairs
    ]


def span(values: list[int]) -> str:
    """One value when all are equal, else "min-max"."""
    return str(min(values)) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def render_tables(record: dict, source: str) -> str:
    """The block's markdown from one record of `finetune_table.py` (`source`: its path, named on the page)."""
    groups = by_fraction(record["results"])
    rows = [r for group in groups.values() for r in group]
    columns = [c for c in COLUMNS if measured(rows, c)]
    pairs = [(a, b) for a, b in CALLS if measured(rows, a) and measured(rows, b)]
    lines = ["Test top-1 (%): mean ± standard deviation over the seeds (each seed its own labelled subset); n: seeds; "
             "steps: of each trained run.", "",
             "| label fraction | labelled images | steps | n | " + " | ".join(LABELS[c] for c in columns) + " |",
             "|---:|---:|---:|---:|" + "---:|" * len(columns)]  # fmt: skip
    for fraction, group in groups.items():
        cells = [mean_std(measured(group, c)) for c in columns]
        lines.append(f"| {100 * fraction:g}% | {span([r['labelled_images'] for r in group])} | "
                     f"{span([r['steps'] for r in group])} | {len(group)} | " + " | ".join(cells) + " |")  # fmt: skip
    lines += ["", f"Calls (`simclr.ablation.noise_rule`: Welch's t-test over the seeds, p < {noise_rule.P_THRESHOLD}, "
              f"at least {noise_rule.MIN_SEEDS} seeds a side; otherwise a tie):", "",
              "| label fraction | " + " | ".join(f"{LABELS[a]} vs {LABELS[b]}" for a, b in pairs) + " |",
              "|---:|" + "---|" * len(pairs)]  # fmt: skip
    lines += [
        f"| {100 * fraction:g}% | " + " | ".join(calls(group, pairs)) + " |" for fraction, group in groups.items()
    ]
    solvers = [r for r in record["results"] if "solver" in r]
    if solvers:
        lines += ["", "| probe on h, whole train split | top-1 (%) | seconds |", "|---|---:|---:|"]
        lines += [f"| {s['solver']} | {100 * s['top1']:.2f} | {s['seconds']:.1f} |" for s in solvers]
    seeds = sorted({r["seed"] for r in rows})
    lines += ["", f"Data: `{source}`; {record['device_name']}, {record['threads']} threads, torch {record['torch']}, "
              f"lightning {record['lightning']}; seeds {seeds}. Command: `{record['command']}`."]  # fmt: skip
    return "\n".join(lines)


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of block `name`."""
    return f"<!-- finetune:{name}:start -->", f"<!-- finetune:{name}:end -->"


def require_markers(text: str, name: str) -> None:
    """A ValueError naming the marker unless `text` has block `name`'s start marker and, after it, its end marker."""
    start, end = markers(name)
    for marker in (start, end):
        if marker not in text:
            raise ValueError(f"the page has no marker {marker}")
    if end not in text.split(start, 1)[1]:
        raise ValueError(f"the page has {end} before {start}")


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the lines between block `name`'s markers replaced by `body` (markers checked)."""
    require_markers(text, name)
    start, end = markers(name)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def render_page(text: str, records: dict[str, tuple[str, dict]], names: tuple[str, ...] = ()) -> str:
    """The page's text with each block in `records` ({name: (source, record)}) rendered and the others untouched;
    every block in `records` and in `names` must have its markers."""
    for name in names:
        require_markers(text, name)
    for name, (source, record) in records.items():
        text = replace_block(text, name, render_tables(record, source))
    return text


def committed_records(repo: Path = REPO) -> dict[str, tuple[str, dict]]:
    """{name: (source, record)} of the `BLOCKS` whose JSON exists under `repo`."""
    return {
        name: (source, json.loads((repo / source).read_text())) for name, source in BLOCKS if (repo / source).is_file()
    }


def render_committed(repo: Path = REPO) -> str:
    """`PAGE` under `repo` as rendered from its committed records (every block's markers checked)."""
    page = repo / PAGE
    return render_page(page.read_text(), committed_records(repo), tuple(name for name, _ in BLOCKS))
