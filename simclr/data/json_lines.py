"""JSON-lines files (one JSON object a line), read with one-line errors naming the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from simclr.errors import UserError


def json_objects(source: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number from 1, object) for each non-empty line of `source`; a one-line UserError naming the line for
    one that is not JSON or not an object."""
    with open(source, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as e:
                raise UserError(f"line {number} of {source} is not JSON ({e}); write one JSON object a line") from e
            if not isinstance(row, dict):
                raise UserError(f"line {number} of {source} is not a JSON object; write one object a line")
            yield number, row
