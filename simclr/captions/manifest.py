"""Image-caption manifests: which image has which captions.

    pairs.csv     image,caption               rows that share an image give it several captions;
                  photos/a.jpg,a red bus      relative paths are relative to the manifest's folder
                  photos/a.jpg,a bus in town
    pairs.tsv     the same, tab-separated
    pairs.jsonl   {"image": "photos/a.jpg", "caption": ["a red bus", "a bus in town"]}
                  {"image": "/data/b.png", "caption": "a cat"}     one caption or a list; other keys ignored

The kind is read from the extension (.csv, .tsv, .jsonl or .json); the column names are options. Images
are listed in the order they first appear, each with its captions in manifest order. A missing column, an
empty caption or path, and a listed image that does not exist are one-line errors naming the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from simclr.data.json_lines import json_objects
from simclr.errors import UserError

KINDS = {".csv": ",", ".tsv": "\t", ".jsonl": "json", ".json": "json"}
MIN_IMAGES = 2  # a contrastive batch, train or validation, needs two images


@dataclass
class ManifestCaptions:
    """Images (absolute paths, each once), their captions, and the manifest line that first names each image."""

    source: Path
    paths: list[str]
    captions: list[list[str]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.paths)

    def select(self, positions: Sequence[int]) -> ManifestCaptions:
        """The images at `positions`, in that order."""
        return ManifestCaptions(
            self.source,
            [self.paths[i] for i in positions],
            [self.captions[i] for i in positions],
            [self.lines[i] for i in positions],
        )

    def where(self, position: int) -> str:
        """`line 7 of /data/pairs.csv`: where image `position` is first named."""
        return f"line {self.lines[position]} of {self.source}"


def _missing_column(source: Path, column: str, option: str, found: Sequence[str], line: int | None = None) -> UserError:
    place = f"line {line} of {source}" if line else f"the manifest {source}"
    return UserError(
        f"{place} has no {column!r} (it has: {', '.join(found) or 'nothing'}); pass --data.init_args.{option} "
        f"with the name that holds the {option.split('_')[0]}"
    )


def _table_rows(
    source: Path, delimiter: str, image_column: str, caption_column: str
) -> Iterator[tuple[int, str, list]]:
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        found = reader.fieldnames or []
        for column, option in ((image_column, "image_column"), (caption_column, "caption_column")):
            if column not in found:
                raise _missing_column(source, column, option, found)
        for row in reader:
            yield reader.line_num, row[image_column] or "", [row[caption_column] or ""]


def _json_rows(source: Path, image_column: str, caption_column: str) -> Iterator[tuple[int, str, list]]:
    for line, row in json_objects(source):
        for column, option in ((image_column, "image_column"), (caption_column, "caption_column")):
            if column not in row:
                raise _missing_column(source, column, option, list(row), line)
        captions = row[caption_column]
        captions = captions if isinstance(captions, list) else [captions]
        if not captions or not all(isinstance(c, str) for c in captions):
            raise UserError(
                f"line {line} of {source}: {caption_column!r} must be a caption or a non-empty list of captions"
            )
        yield line, str(row[image_column]), captions


def read_manifest(source: str | Path, image_column: str = "image", caption_column: str = "caption") -> ManifestCaptions:
    """The images and captions of a manifest (see the module docstring). Images are not opened here.

    Args:
        source: a .csv, .tsv or .jsonl manifest.
        image_column: the column / JSON key holding the image path.
        caption_column: the column / JSON key holding the caption (in JSON lines also a list of captions).
    """
    source = Path(source)
    kind = KINDS.get(source.suffix.lower())
    if kind is None:
        raise UserError(f"the manifest {source} is not .csv, .tsv or .jsonl; save it as one of those")
    if not source.is_file():
        raise UserError(f"the manifest {source.absolute()} does not exist; pass --data.init_args.manifest FILE")
    folder = source.absolute().parent
    index: dict[str, int] = {}
    listed = ManifestCaptions(source, [], [], [])
    rows = (
        _json_rows(source, image_column, caption_column)
        if kind == "json"
        else _table_rows(source, kind, image_column, caption_column)
    )
    try:
        for line, image, captions in rows:
            if not image.strip():
                raise UserError(f"line {line} of {source} has no image path; write one in {image_column!r}")
            for caption in captions:
                if not caption.strip():
                    raise UserError(
                        f"line {line} of {source} has an empty caption; write one in {caption_column!r} or remove the line"
                    )
            path = Path(image.strip()).expanduser()
            path = str(path if path.is_absolute() else folder / path)
            if path not in index:
                index[path] = len(listed.paths)
                listed.paths.append(path)
                listed.captions.append([])
                listed.lines.append(line)
            listed.captions[index[path]].extend(c.strip() for c in captions)
    except UnicodeDecodeError as e:
        raise UserError(f"the manifest {source} is not UTF-8 text; save it as UTF-8") from e
    except csv.Error as e:
        raise UserError(f"the manifest {source} is not valid {source.suffix[1:].upper()} ({e}); fix it") from e
    if not listed.paths:
        raise UserError(f"the manifest {source.absolute()} lists no images; add rows of image and caption")
    return listed


def check_images_exist(listed: ManifestCaptions) -> None:
    """A one-line UserError naming the first listed image that is not a file, and its manifest line."""
    for position, path in enumerate(listed.paths):
        if not Path(path).is_file():
            raise UserError(
                f"{listed.where(position)} names the image {path}, which does not exist; fix the path (relative "
                f"paths are relative to the manifest's folder) or remove the line"
            )


def hold_out(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Splits images 0..n-1 into (kept, held out): a seeded draw of round(fraction * n) images (at least 2).

    Returns:
        sorted positions of the kept and of the held-out images; disjoint, together 0..n-1.
    """
    n_val = max(MIN_IMAGES, round(fraction * n))
    if n < n_val + MIN_IMAGES:
        raise UserError(
            f"the manifest lists {n} images, too few to hold out {n_val} for validation and train on the rest; "
            f"add images or pass --data.init_args.val_manifest"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    held = sorted(order[:n_val])
    kept = sorted(order[n_val:])
    return kept, held
