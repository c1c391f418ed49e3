"""Image paths from a list file: plain text (one path a line), a CSV manifest or JSON lines.

    photos.txt          /data/a.jpg             relative paths are relative to the list's folder;
                        b/c.png                 blank lines and lines starting with # are skipped
    photos.csv          path,caption,source     `path_column` names the path column; the other columns
                        a.jpg,a dog,web         are kept, one dict per image (`ImageList.rows`)
    photos.jsonl        {"path": "a.jpg", "caption": "a dog"}

The kind is read from the extension: .csv, .jsonl / .json (one object a line), anything else is text.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from simclr.data.json_lines import json_objects
from simclr.errors import UserError

LIST_KINDS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclass
class ImageList:
    """Absolute image paths in list order, and each line's other columns (empty dicts for a text list)."""

    source: Path
    paths: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)


def _resolve(folder: Path, path: str) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else folder / p)


def _csv_rows(source: Path, path_column: str) -> list[dict[str, str]]:
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or path_column not in reader.fieldnames:
            raise UserError(
                f"the manifest {source} has no column {path_column!r} (columns: {', '.join(reader.fieldnames or [])}); "
                f"pass --data.init_args.path_column with the name of the column that holds the image paths"
            )
        return [dict(row) for row in reader]


def _jsonl_rows(source: Path, path_column: str) -> list[dict[str, str]]:
    rows = []
    for number, row in json_objects(source):
        if path_column not in row:
            raise UserError(
                f"line {number} of {source} has no key {path_column!r}; pass --data.init_args.path_column with "
                f"the key that holds the image path"
            )
        rows.append(row)
    return rows


def read_image_list(source: str | Path, path_column: str = "path") -> ImageList:
    """The image paths listed in `source` (see the module docstring); one-line UserErrors for a missing or
    malformed file and an empty list. Listed files are not opened here."""
    source = Path(source)
    if not source.is_file():
        raise UserError(f"the image list {source.absolute()} does not exist; pass --data.init_args.root FILE")
    folder = source.absolute().parent
    kind = LIST_KINDS.get(source.suffix.lower(), "text")
    try:
        if kind == "text":
            lines = source.read_text(encoding="utf-8").splitlines()
            paths = [_resolve(folder, s.strip()) for s in lines if s.strip() and not s.lstrip().startswith("#")]
            listed = ImageList(source, paths, [{} for _ in paths])
        else:
            rows = _csv_rows(source, path_column) if kind == "csv" else _jsonl_rows(source, path_column)
            paths = [_resolve(folder, str(row[path_column])) for row in rows]
            extra = [{k: v for k, v in row.items() if k != path_column} for row in rows]
            listed = ImageList(source, paths, extra)
    except UnicodeDecodeError as e:
        raise UserError(f"the image list {source} is not UTF-8 text; save it as UTF-8") from e
    if not listed.paths:
        raise UserError(f"the image list {source.absolute()} lists no images; add one path a line (or a row)")
    return listed
