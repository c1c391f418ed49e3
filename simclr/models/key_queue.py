"""MoCo's dictionary as a queue: "the encoded representations of the current mini-batch are enqueued, and
the oldest are dequeued" (He et al. 2020, section 3.2)."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclr.errors import UserError


class KeyQueue(nn.Module):
    """K past keys in a ring buffer; the queue and its write pointer are buffers, so checkpoints hold them
    and an exact resume continues with the same negatives.

    Args:
        size: K, keys kept (65536 in the paper on ImageNet, 4096 for small datasets).
        dim: D, size of each key (the projection head's out_dim).
    """

    def __init__(self, size: int, dim: int):
        super().__init__()
        if size < 1 or dim < 1:
            raise UserError(f"KeyQueue needs size >= 1 and dim >= 1, got size {size} and dim {dim}; MoCo uses 65536")
        self.size = size
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))  # (K, D) random unit keys at start
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))  # next row to overwrite

    @torch.no_grad()
    def push(self, keys: Tensor) -> None:
        """Enqueue (N, D) keys in order, overwriting the oldest N (wrapping around); N <= K. No host sync."""
        n = keys.shape[0]
        if n > self.size:
            raise UserError(
                f"MoCo queue_size {self.size} is smaller than the {n} keys of one step (all ranks); "
                f"set model.init_args.queue_size >= {n}"
            )
        rows = (self.ptr + torch.arange(n, device=self.keys.device)) % self.size  # (N,)
        self.keys.index_copy_(0, rows, keys.detach().to(self.keys.dtype))
        self.ptr.copy_((self.ptr + n) % self.size)
