"""Fine-tuning results as one file pair per folder: `finetune.json` (a list of records) and `finetune.md`.

Each command appends its rows as one comparison, numbered in the folder: `simclr finetune` the frozen linear
probe it starts from, the fine-tuned network and (with --compare) scratch; `simclr distill` the teacher's
frozen probe, the fine-tuned teacher and the student. finetune.md shows each comparison as a table and says
which row wins (`simclr.finetuning.comparison`). A record has exactly the keys of `RECORD_KEYS`.
"""

from __future__ import annotations

import json
from pathlib import Path

from simclr.errors import UserError
from simclr.finetuning.comparison import RULE, verdict

RECORD_KEYS = ("comparison", "init", "from", "label_fraction", "labelled_images", "seed", "recipe", "steps", "epochs",
               "test_images", "top1")  # fmt: skip
# How each row was trained (the "recipe" key).
RECIPES = {
    "probe": "the L-BFGS linear probe on the frozen representation, fitted on the labelled subset",
    "lp-ft": "LP-FT: the classifier starts from that probe, then the whole network fine-tunes",
    "ft": "fine-tuning from the pretrained weights with a randomly initialised classifier",
    "scratch": "the same architecture trained from random weights",
    "distill": "a student trained on a fine-tuned teacher's predictions on every training image",
}


def init_name(init: str, method: type) -> str:
    """How a record names the starting weights: "scratch", or the method whose pretraining produced them, in lower
    case ("simclr", "moco", "byol"; `method` is the pretraining checkpoint's class)."""
    return "scratch" if init == "scratch" else method.__name__.lower()


def make_record(
    init: str,
    layer: str,
    label_fraction: float,
    labelled_images: int,
    seed: int,
    recipe: str,
    steps: int,
    epochs: float,
    test_images: int,
    top1: float,
) -> dict:
    """One row, its comparison number still 0 (`append_comparison` sets it).

    Args:
        init: how the network started: the pretraining method (simclr, moco, ...), scratch or distill.
        layer: the representation the classifier reads (h, head_1, ...).
        label_fraction, labelled_images, seed: the labelled subset (and the run's seed).
        recipe: a key of `RECIPES`.
        steps, epochs: optimiser steps and passes over the training images (0 for a probe).
        test_images, top1: the test set's size and the row's test top-1 in [0, 1].
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r} is not one of {', '.join(RECIPES)}")
    values = (0, init, layer, label_fraction, labelled_images, seed, recipe, steps, round(epochs, 3), test_images, top1)
    return dict(zip(RECORD_KEYS, values))


def row_label(record: dict) -> str:
    """How a verdict names a row, e.g. "frozen probe on h", "fine-tuned simclr (LP-FT)", "scratch"."""
    return {
        "probe": f"frozen probe on {record['from']}",
        "lp-ft": f"fine-tuned {record['init']} (LP-FT)",
        "ft": f"fine-tuned {record['init']}",
        "scratch": "scratch",
        "distill": "distilled student",
    }[record["recipe"]]


def format_comparison(rows: list[dict]) -> str:
    """One comparison as markdown: a title, a table (init | from | label fraction | labelled images | seed | recipe |
    steps | epochs | top-1 in percent) and the verdict."""
    first = rows[0]
    lines = [
        f"## Comparison {first['comparison']}: from {first['from']}, {100 * first['label_fraction']:g}% labels "
        f"({first['labelled_images']} images), seed {first['seed']}",
        "",
        "| init | from | label fraction | labelled images | seed | recipe | steps | epochs | top-1 |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['init']} | {r['from']} | {100 * r['label_fraction']:g}% | {r['labelled_images']} | {r['seed']} | "
            f"{r['recipe']} | {r['steps']} | {r['epochs']:g} | {100 * r['top1']:.2f} |"
        )
    labelled = [(row_label(r), r["top1"]) for r in rows]
    return "\n".join([*lines, "", verdict(labelled, first["test_images"]) + "."]) + "\n"


def format_records(records: list[dict]) -> str:
    """Every comparison in `records`, in order, then what the recipes mean."""
    numbers = list(dict.fromkeys(r["comparison"] for r in records))
    sections = [format_comparison([r for r in records if r["comparison"] == n]) for n in numbers]
    recipes = ["Recipes:", "", *(f"- {name}: {text}." for name, text in RECIPES.items())]
    return "\n".join([RULE, "", *sections, *recipes]) + "\n"


def read_records(path: Path) -> list[dict]:
    """The records of an existing finetune.json ([] when there is none); a one-line UserError for another file."""
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text())
    except ValueError as e:
        raise UserError(f"{path} is not a finetune.json ({e}); move it away or pass another --out_dir") from e
    if not isinstance(records, list) or not all(isinstance(r, dict) and set(r) == set(RECORD_KEYS) for r in records):
        raise UserError(
            f"{path} is not a list of fine-tuning records with the keys {', '.join(RECORD_KEYS)}; move it away or "
            f"pass another --out_dir"
        )
    return records


def append_comparison(out_dir: Path, rows: list[dict], header: str = "") -> tuple[Path, Path, list[dict]]:
    """Adds `rows` to out_dir/finetune.json as the folder's next comparison and rewrites finetune.md from all
    records; returns (md, json, the rows with their comparison number)."""
    json_path, md_path = Path(out_dir) / "finetune.json", Path(out_dir) / "finetune.md"
    records = read_records(json_path)
    number = 1 + max((r["comparison"] for r in records), default=0)
    rows = [{**r, "comparison": number} for r in rows]
    records += rows
    json_path.write_text(json.dumps(records, indent=2) + "\n")
    md_path.write_text((header.rstrip() + "\n\n" if header.strip() else "") + format_records(records))
    return md_path, json_path, rows
