"""Names read from files (experiment variants, augmentation strategies and their blocks): checked, and never
used as paths.

A name labels a row of a table, a plot axis and a TensorBoard tag. `check_names` keeps it to letters,
digits, spaces and a few signs (what configs/ uses, e.g. "crop + color 1/8", "color_0.25", "crop (0.08, 1)"),
so it cannot hide a control character or break a table, and every name is unique. Where a file is
written per name, `file_names` gives it its own file name: its index and a slug of the name
("03_crop_color_1_8.yaml"), so no name, however odd, decides where a file goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from simclr.errors import UserError

MAX_LENGTH = 80  # characters of a name
SIGNS = " _.+-/(),=:"  # allowed besides letters and digits
SLUG_LENGTH = 40  # characters of a name kept in its file name
RULE = f"use letters, digits, spaces and {SIGNS[1:]} (at most {MAX_LENGTH} characters, starting with a letter or digit)"


def name_problem(name: object) -> str | None:
    """What is wrong with a name (e.g. "contains '..'"), or None for a good one."""
    if not isinstance(name, str):
        return f"is not text ({type(name).__name__})"
    if not name:
        return "is empty"
    if len(name) > MAX_LENGTH:
        return f"is {len(name)} characters long"
    if name.startswith("."):
        return "starts with '.'"
    if ".." in name:
        return "contains '..'"
    bad = next((c for c in name if not (c.isalnum() or c in SIGNS)), None)
    if bad is not None:
        return f"contains {bad!r}"
    if not name[0].isalnum() or name[-1] == " ":
        return "starts with a sign or ends with a space"
    return None


def shown(name: object) -> str:
    """A name for a one-line message: quoted, escaped and cut short."""
    text = repr(name)
    return text if len(text) <= 50 else text[:47] + "..."


def check_names(names: Iterable[object], what: str, where: str, reserved: Mapping[str, str] | None = None) -> list[str]:
    """The names, each checked (`name_problem`), unique and not reserved; else a one-line UserError.

    Args:
        names: the names in order.
        what: what they name, e.g. "variant".
        where: the file or option that gives them, e.g. "configs/experiments/temperature.yaml".
        reserved: names the command gives its own rows -> how to avoid the clash, e.g.
            {"untrained": "pass --untrained false"}.
    """
    names = list(names)
    for name, fix in (reserved or {}).items():
        if name in names:
            raise UserError(f"{where}: {what} name {name!r} is the name of a row the command adds; rename it or {fix}")
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            raise UserError(f"{where}: {what} name {shown(name)} {problem}; {RULE}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"{where}: {what} name {shown(name)} appears twice; give each {what} its own name")
        seen.add(name)
    return names


def slug(name: str) -> str:
    """The ASCII letters, digits and `_ . + -` of a name, other runs of characters as one "_", cut short."""
    text = re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)
    text = re.sub(r"\.{2,}", ".", text).strip("._")[:SLUG_LENGTH].rstrip("._")
    return text or "x"


def file_names(names: Sequence[str], suffix: str) -> dict[str, str]:
    """name -> a file name of its own: the index in `names` and the name's slug, e.g. "03_color_1_8.yaml"."""
    width = max(2, len(str(len(names) - 1)))
    return {name: f"{i:0{width}d}_{slug(name)}{suffix}" for i, name in enumerate(names)}
