"""Contrastive losses: pure functions over (V, N, D) projections, and thin modules for configs.

`nt_xent` (SimCLR), `sigmoid` (SigLIP), `supcon` (supervised contrastive) share `pairs` (which anchors
meet which candidates, gathered across DDP ranks by `gather`), `temperature` and `pruning`.
"""

from simclr.losses.image_text import CLIPLoss, SigLIPLoss, clip_loss, siglip_loss
from simclr.losses.nt_xent import NTXentLoss, multiview_nt_xent, nt_xent
from simclr.losses.pruning import NegativePruning
from simclr.losses.sigmoid import SigmoidLoss, sigmoid_loss
from simclr.losses.supcon import SupConLoss, supcon

__all__ = [
    "CLIPLoss",
    "NTXentLoss",
    "NegativePruning",
    "SigLIPLoss",
    "SigmoidLoss",
    "SupConLoss",
    "clip_loss",
    "multiview_nt_xent",
    "nt_xent",
    "sigmoid_loss",
    "siglip_loss",
    "supcon",
]
