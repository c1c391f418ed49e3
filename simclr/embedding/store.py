"""An embeddings folder, as `simclr embed` writes it and `simclr neighbours` reads it.

    embeddings.npy   float32 (N, D), one row per image in paths.csv order (NumPy's .npy: np.load reads it,
                     memory-mapped with mmap_mode="r"); rows of images that could not be decoded are NaN
    paths.csv        index, path, readable (1 / 0), then the manifest's other columns
    meta.json        the checkpoint, representation, image size, N, D, and how many rows are done

The rows are filled in order and `meta.json` records the count after each flushed block, so a stopped
`simclr embed` continues where it stopped (`done`).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from simclr.errors import UserError

EMBEDDINGS, PATHS, META = "embeddings.npy", "paths.csv", "meta.json"


@dataclass
class EmbeddingsMeta:
    """What an embeddings folder holds and how far it got."""

    ckpt: str
    representation: str
    image_size: int
    count: int
    dim: int
    source: str
    done: int = 0


def write_meta(folder: Path, meta: EmbeddingsMeta) -> None:
    """meta.json, atomically (a stop mid-write leaves the previous one)."""
    tmp = folder / f".{META}.tmp"
    tmp.write_text(json.dumps(asdict(meta), indent=1))
    os.replace(tmp, folder / META)


def read_meta(folder: Path) -> EmbeddingsMeta:
    """The meta.json of an embeddings folder; a one-line UserError when it is not one."""
    try:
        data = json.loads((Path(folder) / META).read_text())
        return EmbeddingsMeta(**data)
    except (OSError, ValueError, TypeError) as e:
        raise UserError(
            f"{folder} is not an embeddings folder written by `simclr embed` (no readable {META}); pass the --out_dir "
            f"of a simclr embed run"
        ) from e


def write_paths(folder: Path, paths: list[str], rows: list[dict[str, str]]) -> None:
    """paths.csv: index, path, readable (1 until a decode fails), and each row's other manifest columns."""
    extra = sorted({key for row in rows for key in row})
    with open(folder / PATHS, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "path", "readable", *extra])
        for i, (path, row) in enumerate(zip(paths, rows)):
            writer.writerow([i, path, 1, *(row.get(key, "") for key in extra)])


def read_paths(folder: Path) -> list[str]:
    """The image paths of an embeddings folder, in row order."""
    with open(Path(folder) / PATHS, newline="", encoding="utf-8") as f:
        return [row["path"] for row in csv.DictReader(f)]


def open_embeddings(folder: Path, count: int, dim: int, resume: bool) -> np.memmap:
    """embeddings.npy as a writable (count, dim) float32 memory map: the existing file when resuming, else new
    (filled with NaN)."""
    path = folder / EMBEDDINGS
    if resume:
        array = np.load(path, mmap_mode="r+")
        if array.shape != (count, dim) or array.dtype != np.float32:
            raise UserError(
                f"{path} holds {array.shape} {array.dtype}, not ({count}, {dim}) float32; pass --overwrite true"
            )
        return array
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, dim))
    array[:] = np.nan
    return array


def load_embeddings(folder: Path) -> tuple[np.ndarray, list[str], EmbeddingsMeta]:
    """(embeddings float32 (N, D) memory-mapped, paths, meta) of a finished embeddings folder."""
    meta = read_meta(folder)
    if meta.done < meta.count:
        raise UserError(
            f"{folder} holds {meta.done} of {meta.count} embeddings (the run stopped); finish it with the same "
            f"simclr embed command"
        )
    return np.load(Path(folder) / EMBEDDINGS, mmap_mode="r"), read_paths(folder), meta
