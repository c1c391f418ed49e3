"""Image-text retrieval recall@k over a set of pairs, and the gather of a whole evaluation set across ranks.

CLIP reports zero-shot retrieval as "text retrieval" (image -> text) and "image retrieval" (text -> image)
recall@1/5/10 (Table 13): for each query, whether its own pair is among the k most similar candidates.
"""

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from simclr.losses.gather import world_size

ROWS_PER_CHUNK = 1024  # queries scored at once: memory is ROWS_PER_CHUNK x N similarities, whatever N


def _ranks_of_pairs(queries: Tensor, candidates: Tensor) -> Tensor:
    """queries (N, D), candidates (N, D), unit rows -> (N,) int64, how many candidates score strictly above the
    query's own pair (0: retrieved first). Ties count in the query's favour."""
    ranks = []
    for start in range(0, queries.shape[0], ROWS_PER_CHUNK):
        sim = queries[start : start + ROWS_PER_CHUNK] @ candidates.T  # (c, N)
        rows = torch.arange(sim.shape[0], device=sim.device)
        own = sim[rows, rows + start]  # (c,)
        ranks.append((sim > own[:, None]).sum(dim=1))
    return torch.cat(ranks)


@torch.no_grad()
def retrieval_recall(image: Tensor, text: Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, Tensor]:
    """Recall@k of image -> text and text -> image retrieval by cosine similarity, pair i matching i.

    Args:
        image: (N, D) image embeddings.
        text: (N, D) text embeddings; row i is the caption of image i.
        ks: the k of recall@k (each >= 1); k >= N gives 1.

    Returns:
        {"i2t_r{k}": fraction of images whose caption is among their k most similar texts, "t2i_r{k}": fraction
        of texts whose image is among their k most similar images} as 0-d float32 tensors on the inputs' device.
    """
    if image.dim() != 2 or image.shape != text.shape or image.shape[0] == 0:
        raise ValueError(
            f"retrieval_recall needs two (N, D) tensors, N >= 1, got {tuple(image.shape)}, {tuple(text.shape)}"
        )
    if any(k < 1 for k in ks):
        raise ValueError(f"retrieval_recall ks must be >= 1, got {ks}")
    image = F.normalize(image.float(), dim=1)
    text = F.normalize(text.float(), dim=1)
    ranks = {"i2t": _ranks_of_pairs(image, text), "t2i": _ranks_of_pairs(text, image)}  # (N,) each
    return {f"{d}_r{k}": (r < k).float().mean() for d, r in ranks.items() for k in ks}


@torch.no_grad()
def gather_rows(x: Tensor) -> Tensor:
    """Every rank's rows of `x` (N_r, ...) concatenated in rank order, N_r may differ between ranks; `x` itself
    without a process group. For evaluation sets, whose last batches need not be equal across ranks."""
    if world_size() == 1:
        return x
    count = torch.tensor([x.shape[0]], device=x.device)
    counts = [torch.zeros_like(count) for _ in range(world_size())]
    dist.all_gather(counts, count)
    longest = int(max(c.item() for c in counts))
    padded = torch.zeros((longest, *x.shape[1:]), dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(c.item())] for part, c in zip(parts, counts)])
