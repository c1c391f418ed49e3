"""`simclr neighbours`: the images most similar to a query in an embeddings folder (`simclr embed`), by exact
cosine similarity.

    simclr neighbours --embeddings embeddings/ --index 42 --k 10           # an image of the folder
    simclr neighbours --embeddings embeddings/ --query new.jpg --k 10      # any image, embedded first

The search streams embeddings.npy from disk (memory-mapped) in blocks of `block_rows` rows and keeps the
running top k, so memory holds one block, never the whole set: exact at any size, at the cost of one pass
over the file per query. Rows of unreadable images (NaN) are never returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from simclr.data.channels import as_channels
from simclr.data.decode import decode_framed
from simclr.devices import resolve_device
from simclr.embedding.channels import input_channels
from simclr.embedding.store import load_embeddings
from simclr.errors import UserError
from simclr.loading.handle import load


@dataclass
class Neighbour:
    rank: int
    index: int
    similarity: float
    path: str


def top_k_cosine(rows: np.ndarray, query: Tensor, k: int, block_rows: int = 65536) -> tuple[Tensor, Tensor]:
    """Exact top-k cosine similarity of `query` against every row, streamed in blocks.

    Args:
        rows: float32 (N, D), e.g. a memory map; NaN rows are skipped.
        query: (D,) float.
        k: neighbours wanted (at most N).

    Returns:
        (similarities (k',) descending, row indices (k',) int64), k' = min(k, readable rows).
    """
    q = F.normalize(query.float().flatten(), dim=0)
    best_sim = torch.empty(0)
    best_idx = torch.empty(0, dtype=torch.long)
    for start in range(0, len(rows), block_rows):
        block = torch.from_numpy(np.asarray(rows[start : start + block_rows], dtype=np.float32))  # (b, D)
        sims = F.normalize(block, dim=1) @ q  # (b,)
        sims = torch.where(torch.isnan(sims), torch.full_like(sims, -torch.inf), sims)
        idx = torch.arange(start, start + len(block))
        best_sim, order = torch.cat([best_sim, sims]).topk(min(k, len(best_sim) + len(sims)))
        best_idx = torch.cat([best_idx, idx])[order]
    keep = torch.isfinite(best_sim)
    return best_sim[keep], best_idx[keep]


def neighbours(
    embeddings: str,
    query: str | None = None,
    index: int | None = None,
    k: int = 10,
    ckpt: str | None = None,
    device: str = "auto",
    weights_only: bool = True,
    block_rows: int = 65536,
) -> list[Neighbour]:
    """The k images of an embeddings folder most similar to a query image (or to one of its own images).

    Args:
        embeddings: an --out_dir of `simclr embed`.
        query: an image file, embedded with the folder's checkpoint (or --ckpt) at its image size.
        index: a row of the folder (its index in paths.csv) as the query, instead of --query.
        k: neighbours to list.
        ckpt: the checkpoint that embeds --query; default: the one that wrote the folder.
        device: "cpu", "cuda" or "auto" (CUDA when available), for embedding --query.
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
        block_rows: rows read per block of the search (memory: block_rows x D floats).
    """
    if (query is None) == (index is None):
        raise UserError("simclr neighbours needs one of --query IMAGE or --index I (a row of paths.csv)")
    if k < 1 or block_rows < 1:
        raise UserError(f"--k {k} / --block_rows {block_rows}: pass numbers of 1 or more")
    rows, paths, meta = load_embeddings(Path(embeddings))
    if index is not None:
        if not 0 <= index < len(rows):
            raise UserError(f"--index {index} is not a row of {embeddings} (0..{len(rows) - 1})")
        vector = torch.from_numpy(np.array(rows[index], dtype=np.float32))
        if torch.isnan(vector).any():
            raise UserError(f"--index {index} ({paths[index]}) could not be decoded when embedded; pick another row")
    else:
        dev = resolve_device(device)
        model = load(ckpt or meta.ckpt, map_location=dev, weights_only=weights_only)
        image = as_channels(decode_framed(query, meta.image_size)[None].to(dev), input_channels(model.encoder))
        vector = model.embed(image, meta.representation)[0].float().cpu()
        if vector.shape[0] != rows.shape[1]:
            raise UserError(
                f"--ckpt gives {vector.shape[0]}-d {meta.representation}, the folder holds {rows.shape[1]}-d"
            )
    sims, found = top_k_cosine(rows, vector, k, block_rows)
    result = [Neighbour(r + 1, int(i), float(s), paths[int(i)]) for r, (s, i) in enumerate(zip(sims, found))]
    print("| rank | index | cosine | path |\n|---:|---:|---:|---|")
    for n in result:
        print(f"| {n.rank} | {n.index} | {n.similarity:.4f} | {n.path} |")
    return result
