"""The image files of a folder tree, found once and cached: one recursive `os.scandir` walk, saved in an index
file and reused while the tree is unchanged.

`os.scandir` reads a folder's entries with their types in one system call per block of entries, so a walk
costs about one call per folder instead of one `stat` per file (`Path.rglob` plus `is_file`). The index file
records each folder's modification time: adding, removing or renaming a file changes its folder's time, so
a later run stats the folders alone (thousands, not millions of files) to know the list is still right,
and rescans otherwise. A file rewritten in place keeps its path, and its pixels are read when it is loaded.

Any nesting and symbolic links to folders are followed (a link back up the tree is visited once); hidden
files and folders (`.name`) are skipped; image files are recognised by their extension.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from simclr.data.datasets import IMAGE_EXTENSIONS
from simclr.errors import UserError

INDEX_VERSION = 1
CACHE_ENV = "SIMCLR_CACHE_DIR"  # where index files go when no `index_file` is given


@dataclass
class ImageIndex:
    """The images under `root`: paths relative to it (sorted), and the modification time of every folder walked."""

    root: Path
    paths: list[str]
    folders: dict[str, int]  # folder relative to root ("." for root) -> st_mtime_ns

    def unchanged(self) -> bool:
        """Whether every folder walked still has its recorded modification time (one stat per folder)."""
        for folder, mtime in self.folders.items():
            try:
                if os.stat(self.root / folder).st_mtime_ns != mtime:
                    return False
            except OSError:
                return False
        return True


def scan(root: str | Path) -> ImageIndex:
    """Walks `root` with `os.scandir` (see the module docstring); a one-line UserError if it is no folder."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"the image folder {root.absolute()} does not exist; pass --data.init_args.root DIR")
    paths: list[str] = []
    folders: dict[str, int] = {}
    visited: set[str] = set()
    stack = ["."]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(root / folder)
        if real in visited:  # a symbolic link back to a folder already walked
            continue
        visited.add(real)
        try:
            folders[folder] = os.stat(root / folder).st_mtime_ns
            entries = list(os.scandir(root / folder))
        except OSError as e:
            raise UserError(
                f"cannot read the folder {root.absolute() / folder} ({e.strerror}); fix its permissions"
            ) from e
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = entry.name if folder == "." else f"{folder}/{entry.name}"
            if entry.is_dir():  # follows symbolic links
                stack.append(relative)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS and entry.is_file():
                paths.append(relative)
    paths.sort()
    return ImageIndex(root, paths, folders)


def default_index_file(root: str | Path) -> Path:
    """Where the index of `root` is cached: $SIMCLR_CACHE_DIR (default ~/.cache/simclr-toolkit/index), one
    file per absolute folder path (the data folder itself may be read-only)."""
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "simclr-toolkit" / "index")
    key = hashlib.sha256(str(Path(root).absolute()).encode()).hexdigest()[:20]
    return base / f"{key}.index"


def write_index(index: ImageIndex, path: Path) -> None:
    """Writes `index`: a JSON header line, then one relative path a line; atomically (a crash leaves the old)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"version": INDEX_VERSION, "root": str(index.root.absolute()), "folders": index.folders}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        f.writelines(p + "\n" for p in index.paths)
    os.replace(tmp, path)


def read_index(root: Path, path: Path) -> ImageIndex | None:
    """The cached index of `root` in `path`, or None when absent, unreadable, of another folder or version."""
    try:
        with open(path, encoding="utf-8") as f:
            header = json.loads(f.readline())
            paths = f.read().splitlines()
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("version") != INDEX_VERSION:
        return None
    if header.get("root") != str(root.absolute()) or not isinstance(header.get("folders"), dict):
        return None
    return ImageIndex(root, paths, {str(k): int(v) for k, v in header["folders"].items()})


def image_index(root: str | Path, index_file: str | Path | None = None) -> ImageIndex:
    """The images under `root`: the cached index when its folders are unchanged, else a new scan (cached).

    Args:
        root: the image folder tree.
        index_file: where the index is cached; default `default_index_file(root)`. A cache that cannot be
            written (read-only place) only costs a rescan next time.
    """
    root = Path(root)
    cache = Path(index_file) if index_file else default_index_file(root)
    cached = read_index(root, cache)
    if cached is not None and cached.unchanged():
        return cached
    index = scan(root)
    if not index.paths:
        raise UserError(
            f"no images under {root.absolute()} (looked for {', '.join(IMAGE_EXTENSIONS)} at any depth, hidden "
            f"files skipped); pass --data.init_args.root with the folder of your images"
        )
    try:
        write_index(index, cache)
    except OSError:
        pass  # no cache: the next run scans again
    return index
