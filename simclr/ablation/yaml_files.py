"""Reading the YAML files of the comparison commands (experiments, strategies, method configs) strictly.

PyYAML keeps the last of two equal keys in one mapping, so two variants or strategies with one name would
silently become one. `UniqueKeyLoader` refuses that instead, and `read_mapping` turns every problem of such
a file (missing, not YAML, empty, not a mapping, a repeated key) into one line that says what the file is
and which command takes it.

    spec = read_mapping(path, "an experiment file", "simclr compare --experiment", "configs/experiments/temperature.yaml")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simclr.errors import UserError

MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: *anchor` may be overridden by the mapping's own keys


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """Two equal keys in one YAML mapping."""

    def __init__(self, key: Any, mark: yaml.Mark):
        super().__init__(None, None, f"the key {key!r} appears twice in one mapping", mark)
        self.key = key


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that raises DuplicateKeyError for a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: SafeLoader's own error follows
                    continue
                if repeated:
                    raise DuplicateKeyError(key, key_node.start_mark)
        return super().construct_mapping(node, deep)


def load_unique(text: str) -> Any:
    """yaml.safe_load that refuses repeated keys (DuplicateKeyError)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path, what: str, command: str) -> Any:
    """The data of a YAML file; a one-line UserError naming `what` the file is and the `command` option that
    takes it when it is missing, not YAML or repeats a key in one mapping."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{command} {path} is not a file; pass {what}")
    try:
        return load_unique(path.read_text())
    except DuplicateKeyError as e:
        raise UserError(
            f"{path} line {e.problem_mark.line + 1}: the key {e.key!r} appears twice in one mapping; give each "
            f"entry of {what} its own name"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1}: {getattr(e, 'problem', '')})" if where is not None else ""
        raise UserError(f"{path} is not valid YAML{line}; {command} takes {what}") from None


def read_mapping(path: str | Path, what: str, command: str, example: str) -> dict[str, Any]:
    """`read_yaml`, and a one-line UserError when the file is empty or holds something other than a mapping."""
    data = read_yaml(path, what, command)
    if data is None or not isinstance(data, dict):
        found = "is empty" if data is None else f"holds a {type(data).__name__}, not a mapping of keys"
        raise UserError(f"{path} {found}; {command} takes {what}, e.g. {example}")
    return data
