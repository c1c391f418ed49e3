"""InfoNCE against a queue of keys, MoCo's loss (He et al. 2020, Eq. 1 and Algorithm 1):

l_pos = bmm(q.view(N,1,C), k.view(N,C,1))    # positive logits: Nx1
l_neg = mm(q.view(N,C), queue.view(C,K))     # negative logits: NxK
logits = cat([l_pos, l_neg], dim=1)
loss = CrossEntropyLoss(logits/t, zeros(N))  # the positive is class 0
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def info_nce_with_queue(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """-log exp(q.k+ / t) / (exp(q.k+ / t) + sum_K exp(q.k_i / t)), averaged over the N queries.

    Args:
        q: (N, D) queries (normalised here).
        k: (N, D) keys, row i the positive of query i; no gradient flows into them.
        queue: (K, D) unit-norm keys of earlier batches, the negatives.
        temperature: t > 0 (0.2 in MoCo v2).

    Returns:
        Scalar float32.
    """
    q = F.normalize(q.float(), dim=1)
    k = F.normalize(k.detach().float(), dim=1)
    l_pos = (q * k).sum(dim=1, keepdim=True)  # (N, 1)
    l_neg = q @ queue.detach().float().T  # (N, K)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature  # (N, 1 + K)
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))
