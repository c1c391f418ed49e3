"""`simclr embed`: h (or z, or a head layer) of every image of a folder tree, file list or manifest, written as
NumPy arrays other tools read (`simclr.embedding.store`), batched, resumable.

    simclr embed --ckpt runs/mine/checkpoints/last.ckpt --data /data/photos --out_dir embeddings/
    simclr neighbours --embeddings embeddings/ --query /data/photos/cat.jpg --k 10
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from simclr.data.channels import as_channels
from simclr.data.image_files import ImageFiles
from simclr.data.image_index import image_index
from simclr.data.image_lists import read_image_list
from simclr.devices import resolve_device
from simclr.embedding.channels import input_channels
from simclr.embedding.store import (
    EMBEDDINGS,
    META,
    PATHS,
    EmbeddingsMeta,
    open_embeddings,
    read_meta,
    write_meta,
    write_paths,
)
from simclr.errors import UserError
from simclr.loading.handle import Pretrained, load
from simclr.safety.output_paths import check_output_folder, record_outputs
from simclr.safety.run_folder import writable_folder

log = logging.getLogger(__name__)
OUTPUTS = (EMBEDDINGS, PATHS, META)
FLUSH_ROWS = 8192  # rows between two flushes of embeddings.npy and meta.json: a stop loses at most these


class EmbedFiles(ImageFiles):
    """`ImageFiles` whose unreadable files give a blank image and ok = False (their rows become NaN), so every
    listed image keeps its row; with `skip_bad_images` false the first one stops the run."""

    def __getitem__(self, index: int) -> tuple[Tensor, int, bool]:
        try:
            return self.image(index), index, True
        except UserError as e:
            if not self.skip_bad_images:
                raise UserError(f"{e.args[0]}, or pass --skip_bad_images true to leave its row empty (NaN)") from e
            return torch.zeros(3, self.image_size, self.image_size, dtype=torch.uint8), index, False


def image_side(model: Pretrained, image_size: int | None) -> int:
    """`image_size`, else the side of the images the checkpoint's data module delivered."""
    if image_size is not None:
        if image_size < 1:
            raise UserError(f"--image_size {image_size} is below 1; pass the side in pixels, e.g. 96")
        return image_size
    side = getattr(model.datamodule(), "image_size", None)
    if not isinstance(side, int):
        raise UserError(f"checkpoint {model.path} records no image size; pass --image_size (e.g. 96)")
    return side


def listed_images(data: str, path_column: str, index_file: str | None) -> tuple[list[str], list[dict[str, str]]]:
    """(absolute paths, their manifest columns) of a folder tree or a list file."""
    source = Path(data)
    if source.is_dir():
        paths = [str(source.absolute() / p) for p in image_index(source, index_file).paths]
        return paths, [{} for _ in paths]
    listed = read_image_list(source, path_column)
    return listed.paths, listed.rows


def embed(
    ckpt: str,
    data: str,
    out_dir: str = "embeddings",
    representation: str = "h",
    image_size: int | None = None,
    path_column: str = "path",
    skip_bad_images: bool = False,
    batch_size: int = 256,
    num_workers: int = 2,
    device: str = "auto",
    weights_only: bool = True,
    index_file: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Embed every image of `data` with a checkpoint's frozen encoder; returns the path of embeddings.npy.

    Args:
        ckpt: a checkpoint of simclr fit, finetune or distill.
        data: a folder tree of images (any depth), or a list file: .txt (one path a line), .csv or .jsonl.
        out_dir: folder for embeddings.npy, paths.csv and meta.json; a stopped run continues there.
        representation: h, head_1, ..., or z.
        image_size: side the images are decoded to; default: the checkpoint's data module's.
        path_column: the CSV column / JSON key with the image paths.
        skip_bad_images: leave the rows of unreadable images NaN (readable 0 in paths.csv) instead of stopping.
        batch_size: images per forward pass.
        num_workers: decoding worker processes.
        device: "cpu", "cuda" or "auto" (CUDA when available).
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
        index_file: where a folder's index is cached (default under ~/.cache/simclr-toolkit/index).
        overwrite: replace files in --out_dir that are not this run's.
    """
    if batch_size < 1 or num_workers < 0:
        raise UserError(
            f"--batch_size {batch_size} / --num_workers {num_workers}: pass batch_size >= 1, num_workers >= 0"
        )
    dev = resolve_device(device)
    model = load(ckpt, map_location=dev, weights_only=weights_only)
    if representation not in model.representations:
        raise UserError(f"--representation {representation}: {ckpt} has {', '.join(model.representations)}; pass one")
    side = image_side(model, image_size)
    paths, rows = listed_images(data, path_column, index_file)
    out = writable_folder(out_dir, "--out_dir")
    wanted = EmbeddingsMeta(str(Path(ckpt).absolute()), representation, side, len(paths), 0, str(Path(data).absolute()))
    resume = (out / META).is_file() and not overwrite and same_run(read_meta(out), wanted)
    if not resume:
        check_output_folder(out, OUTPUTS, [("--ckpt", ckpt), ("--data", data)], "--out_dir", "embed", overwrite)
        record_outputs(out, OUTPUTS, "embed")
    dataset = EmbedFiles(paths, side, skip_bad_images)
    channels = input_channels(model.encoder)
    blank = torch.zeros(1, 3, side, side, dtype=torch.uint8, device=dev)
    wanted.dim = int(model.embed(as_channels(blank, channels), representation).shape[1])
    meta = read_meta(out) if resume else wanted
    if not resume:
        write_paths(out, paths, rows)
    array = open_embeddings(out, meta.count, meta.dim, resume)
    write_meta(out, meta)
    fill(model, dataset, array, meta, out, channels, batch_size, num_workers, dev)
    bad = mark_unreadable(out, array)
    print(
        f"wrote {meta.count} {representation} embeddings ({meta.dim}-d) to {out / EMBEDDINGS}, paths in {out / PATHS}"
    )
    if bad:
        print(f"{len(bad)} images could not be decoded (rows NaN, readable 0 in {PATHS}; first: {paths[bad[0]]})")
    return out / EMBEDDINGS


def same_run(saved: EmbeddingsMeta, wanted: EmbeddingsMeta) -> bool:
    """Whether `saved` is a run of the same checkpoint, representation, image size and images (a resume);
    a UserError when the folder holds another run's embeddings."""
    same = (saved.ckpt, saved.representation, saved.image_size, saved.count, saved.source) == (
        wanted.ckpt, wanted.representation, wanted.image_size, wanted.count, wanted.source)  # fmt: skip
    if not same:
        raise UserError(
            f"the --out_dir holds embeddings of another run ({saved.representation} of {saved.ckpt} for {saved.count} "
            f"images of {saved.source}); pass another --out_dir, or --overwrite true to replace them"
        )
    return True


def fill(model: Pretrained, dataset: EmbedFiles, array: np.memmap, meta: EmbeddingsMeta, out: Path, channels: int,
         batch_size: int, num_workers: int, device: torch.device) -> None:  # fmt: skip
    """Embeds rows meta.done..count in order, flushing the array and meta.json after each block of batches."""
    todo = Subset(dataset, range(meta.done, meta.count))
    loader = DataLoader(todo, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    flush_every = max(1, FLUSH_ROWS // batch_size)  # batches between two flushes
    with tqdm(total=meta.count, initial=meta.done, unit="img", desc="embed") as bar:
        for step, (images, indices, ok) in enumerate(loader, start=1):
            feats = model.embed(as_channels(images.to(device), channels), meta.representation).float().cpu()
            feats = torch.where(ok[:, None], feats, torch.nan)  # rows of unreadable images: NaN
            array[int(indices[0]) : int(indices[-1]) + 1] = feats.numpy()
            meta.done = int(indices[-1]) + 1
            bar.update(len(indices))
            if step % flush_every == 0 or meta.done == meta.count:
                array.flush()
                write_meta(out, meta)


def mark_unreadable(out: Path, array: np.memmap) -> list[int]:
    """Rows that are NaN (images that could not be decoded), marked readable 0 in paths.csv; returns them."""
    bad = [int(i) for i in np.flatnonzero(np.isnan(array[:, 0]))] if len(array) else []
    if bad:
        with open(out / PATHS, newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
        for i in bad:
            table[i + 1][2] = "0"
        with open(out / PATHS, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(table)
    return bad
