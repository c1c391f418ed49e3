"""Seconds to index a folder tree of images (`simclr.data.image_index`): the first scan, and a later run that
reuses the cached index (one stat per folder).

    python benchmarks/index_time.py --files 100000 --per-folder 100 --out benchmarks/results/cpu/index_time.json

The tree is generated in a temporary folder: `files` empty `.jpg` files (the index never opens a file), in
folders of `per-folder` files two levels deep. `pathlib.Path.rglob` with a suffix test is timed alongside as
the usual way to list images.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import median, print_table, write_json

from simclr.data.image_index import image_index, scan


def make_tree(root: Path, files: int, per_folder: int) -> None:
    """`files` empty .jpg files in folders a/b of `per_folder` files each."""
    for i in range(files):
        folder = root / f"g{i // (per_folder * 100):03d}" / f"f{i // per_folder:05d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:08d}.jpg").touch()


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--per-folder", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/cpu/index_time.json"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "photos", Path(tmp) / "photos.index"
        start = time.perf_counter()
        make_tree(root, args.files, args.per_folder)
        made = time.perf_counter() - start
        scan_s = timed(lambda: scan(root), args.repeats)
        image_index(root, cache)  # writes the cache
        cached_s = timed(lambda: image_index(root, cache), args.repeats)
        rglob_s = timed(
            lambda: [q for q in root.rglob("*") if q.suffix.lower() == ".jpg" and q.is_file()], args.repeats
        )
        folders = len(image_index(root, cache).folders)
    rows = [
        {"method": "os.scandir walk (no cache)", "seconds": round(scan_s, 3)},
        {"method": "cached index (folders unchanged)", "seconds": round(cached_s, 3)},
        {"method": "Path.rglob + is_file", "seconds": round(rglob_s, 3)},
    ]
    print(f"{args.files} files in {folders} folders (generated in {made:.1f} s); median of {args.repeats}")
    print_table(rows, ["method", "seconds"])
    settings = {"files": args.files, "folders": folders, "per_folder": args.per_folder, "repeats": args.repeats}
    return {"path": str(write_json(args.out, "index_time", torch.device("cpu"), settings, rows)), "rows": rows}


if __name__ == "__main__":
    main()
