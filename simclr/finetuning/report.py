"""Fine-tuning results as one table per folder: `finetune.json` (a list of records) and `finetune.md`.

Each run appends its record, so scratch, fine-tuned and distilled runs written into one folder build one
table. A record has exactly the keys of `RECORD_KEYS`.
"""

from __future__ import annotations

import json
from pathlib import Path

from simclr.errors import UserError

RECORD_KEYS = ("init", "from", "label_fraction", "labelled_images", "top1", "epochs")


def init_name(init: str, method: type) -> str:
    """How a record names the starting weights: "scratch", or the method whose pretraining produced them, in lower
    case ("simclr", "moco", "byol"; `method` is the pretraining checkpoint's class)."""
    return "scratch" if init == "scratch" else method.__name__.lower()


def make_record(init: str, layer: str, label_fraction: float, labelled_images: int, top1: float, epochs: float) -> dict:
    """One row: how the network started (the pretraining method, e.g. simclr or moco; scratch; distill), the
    layer it was fine-tuned from, the fraction and number of labelled images, test top-1 in [0, 1] and epochs
    over the labelled images."""
    return dict(zip(RECORD_KEYS, (init, layer, label_fraction, labelled_images, top1, round(epochs, 3))))


def format_records(records: list[dict]) -> str:
    """Markdown table: init | from | label fraction | labelled images | top-1 (percent) | epochs."""
    lines = ["| init | from | label fraction | labelled images | top-1 | epochs |", "|---|---|---:|---:|---:|---:|"]
    for r in records:
        lines.append(
            f"| {r['init']} | {r['from']} | {100 * r['label_fraction']:g}% | {r['labelled_images']} | "
            f"{100 * r['top1']:.2f} | {r['epochs']:g} |"
        )
    return "\n".join(lines) + "\n"


def read_records(path: Path) -> list[dict]:
    """The records of an existing finetune.json ([] when there is none); a one-line UserError for another file."""
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text())
    except ValueError as e:
        raise UserError(f"{path} is not a finetune.json ({e}); move it away or pass another --out_dir") from e
    if not isinstance(records, list) or not all(isinstance(r, dict) and set(r) == set(RECORD_KEYS) for r in records):
        raise UserError(f"{path} is not a list of fine-tuning records; move it away or pass another --out_dir")
    return records


def append_record(out_dir: Path, record: dict, header: str = "") -> tuple[Path, Path]:
    """Adds `record` to out_dir/finetune.json and rewrites finetune.md from all records; returns (md, json)."""
    json_path, md_path = Path(out_dir) / "finetune.json", Path(out_dir) / "finetune.md"
    records = [*read_records(json_path), record]
    json_path.write_text(json.dumps(records, indent=2) + "\n")
    md_path.write_text((header.rstrip() + "\n\n" if header.strip() else "") + format_records(records))
    return md_path, json_path
