"""Where a command may write: never onto one of its inputs, never outside its output folder, and over an
existing file only when this command wrote it (or the user passed `--overwrite true`).

A file is "the same" as an input by any route: the same path, a relative path to it, a symbolic link to it,
a hard link to it (same device and inode, `os.path.samefile`). A command records what it wrote in
`RECORD` inside the output folder (file name -> command, and for single files their size and modification
time), so that running it again replaces its own files but not a file the user put there.

    check_output_file(Path("backbone.pt"), [("--ckpt", ckpt)], "--out", "export", overwrite=False)
    ...write the file...
    record_outputs(Path("."), ["backbone.pt"], "export", with_stat=True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from simclr.errors import UserError

RECORD = ".simclr-outputs.json"  # in an output folder: {file name relative to it: {"command": ..., ...}}
Inputs = Iterable[tuple[str, str | Path]]  # (the option that names it, e.g. "--ckpt", its path)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file by any route (equal after resolving links, or one inode)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def blocking_file(folder: str | Path) -> Path | None:
    """The regular file at `folder` or at one of its parents (so `folder` cannot be a folder), else None."""
    path = Path(os.path.abspath(folder))
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_folder_path(folder: str | Path, option: str) -> None:
    """A one-line UserError when `folder` is a regular file or lies under one."""
    blocker = blocking_file(folder)
    if blocker is None:
        return
    if blocker == Path(os.path.abspath(folder)):
        raise UserError(f"{option} {folder} is a file, not a folder; pass a folder path, e.g. {option} runs/out")
    raise UserError(f"{option} {folder} is under the file {blocker}, so it cannot be a folder; pass another folder")


def inside(folder: str | Path, path: str | Path) -> bool:
    """Whether `path`, links resolved, lies inside `folder` (links resolved)."""
    root, target = os.path.realpath(folder), os.path.realpath(path)
    return os.path.commonpath([root, target]) == root and target != root


def read_record(folder: str | Path) -> dict[str, dict]:
    """The RECORD of an output folder ({} when there is none or it is not one this module wrote)."""
    try:
        record = json.loads((Path(folder) / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) and all(isinstance(v, dict) for v in record.values()) else {}


def written_here(path: Path, name: str, command: str, record: Mapping[str, dict]) -> bool:
    """Whether the existing file `path` (`name` in the record) is one `command` wrote and nobody changed since."""
    entry = record.get(name)
    if not entry or entry.get("command") != command or path.is_symlink():
        return False
    if "size" not in entry:
        return True
    stat = path.stat()
    return entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns


def check_output(
    path: Path,
    name: str,
    inputs: Inputs,
    option: str,
    command: str,
    overwrite: bool,
    record: Mapping[str, dict],
) -> None:
    """A one-line UserError unless `command` may write `path` (`name` in its folder's record): not an input,
    not a folder, and new, written by this command before, or `overwrite`."""
    for input_option, input_path in inputs:
        if same_file(path, input_path):
            raise UserError(
                f"{option} would write {path}, which is {input_option} {input_path} (the same file); "
                f"pass another {option}"
            )
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir():
        raise UserError(f"{option} would write the file {path}, which is a folder; pass another {option}")
    if not overwrite and not written_here(path, name, command, record):
        raise UserError(
            f"{option} would replace {path}, which simclr {command} did not write; pass another {option}, or "
            f"--overwrite true to replace it"
        )


def check_output_file(path: str | Path, inputs: Inputs, option: str, command: str, overwrite: bool) -> None:
    """Checks a single output file (e.g. `simclr export --out`) with `check_output`; its record is its folder's."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; pass a file path, e.g. {option} {path / 'backbone.pt'}")
    check_output(path, path.name, inputs, option, command, overwrite, read_record(path.parent))


def check_output_folder(
    folder: str | Path,
    names: Iterable[str],
    inputs: Inputs,
    option: str,
    command: str,
    overwrite: bool,
) -> None:
    """Checks an output folder and the files `names` (relative paths) a command writes there: the folder is
    not a file, each file stays inside it (links resolved) and passes `check_output`."""
    folder, inputs = Path(folder), list(inputs)
    check_folder_path(folder, option)
    record = read_record(folder)
    for name in [RECORD, *names]:
        path = folder / name
        check_folder_path(path.parent, option)
        if name != RECORD:
            check_output(path, name, inputs, option, command, overwrite, record)
        elif path.is_symlink() or path.is_dir():
            raise UserError(f"{option} {folder}: {RECORD} is not a file simclr wrote; pass another {option}")
        if not inside(folder, path):
            raise UserError(f"{option} {folder}: {name} would be written outside it; pass another {option}")


def record_outputs(folder: str | Path, names: Iterable[str], command: str, with_stat: bool = False) -> Path:
    """Adds `names` (relative to `folder`) to its RECORD as written by `command`; `with_stat` also keeps each
    file's size and modification time, so a file changed since is no longer taken as ours. Returns the record."""
    folder = Path(folder)
    record = read_record(folder)
    for name in names:
        entry: dict = {"command": command}
        if with_stat:
            stat = (folder / name).stat()
            entry |= {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        record[name] = entry
    with written_atomically(folder / RECORD) as temporary:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return folder / RECORD


@contextmanager
def written_atomically(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside `path`; after the block it replaces `path` in one step (a link at `path`
    is replaced, never written through), and is removed if the block fails."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
