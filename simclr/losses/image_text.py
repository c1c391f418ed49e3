"""Losses of two-tower image-text training: CLIP's symmetric InfoNCE and SigLIP's pairwise sigmoid.

Pair i of a batch is image i and its caption i: the "diagonal" of the N x N image-text similarity matrix holds
the positives, every other cell is a negative. Both losses L2-normalise their inputs, so the similarities are
cosines. Under DDP each rank scores its own rows against every rank's columns, gathered with gradient
(`simclr.losses.gather.all_gather_with_grad`), so the mean of the ranks' losses is the single-process loss on
the concatenated batch and DDP's averaged gradients are its gradients (tests/test_image_text.py checks both).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.losses.gather import all_gather_with_grad, rank
from simclr.losses.temperature import Temperature, check_temperature


def _check_pairs(image: Tensor, text: Tensor, name: str) -> None:
    if image.dim() != 2 or image.shape != text.shape:
        raise ValueError(
            f"{name} needs image and text embeddings of one shape (N, D), got {tuple(image.shape)} and {tuple(text.shape)}"
        )


def clip_loss(image: Tensor, text: Tensor, logit_scale: float | Tensor, gather_distributed: bool = True) -> Tensor:
    """Symmetric InfoNCE of CLIP, Figure 3: "logits = np.dot(I_e, T_e.T) * np.exp(t);
    loss_i = cross_entropy_loss(logits, labels, axis=0); loss_t = cross_entropy_loss(logits, labels, axis=1);
    loss = (loss_i + loss_t)/2".

    Args:
        image: (N, D) image embeddings; row i pairs with text row i. L2-normalised here.
        text: (N, D) text embeddings.
        logit_scale: the multiplier exp(t) = 1 / tau (float or 0-d tensor).
        gather_distributed: under DDP, every rank's rows are scored against the columns of all ranks (the global
            batch of negatives); equal N on every rank. No effect without a process group.

    Returns:
        Scalar float32: the mean over this rank's N images (image -> text) and N texts (text -> image) of the
        cross-entropy of the matching column. Identical embeddings in every row give log(N_global).
    """
    _check_pairs(image, text, "clip_loss")
    image = F.normalize(image.float(), dim=1)  # (N, D)
    text = F.normalize(text.float(), dim=1)
    all_image, all_text, first = image, text, 0
    if gather_distributed:
        all_image, all_text = all_gather_with_grad(image), all_gather_with_grad(text)  # (W N, D) each
        first = rank() * image.shape[0]
    labels = torch.arange(first, first + image.shape[0], device=image.device)  # (N,): column of each row's pair
    image_to_text = logit_scale * image @ all_text.T  # (N, W N)
    text_to_image = logit_scale * text @ all_image.T  # (N, W N)
    return (F.cross_entropy(image_to_text, labels) + F.cross_entropy(text_to_image, labels)) / 2


def siglip_loss(
    image: Tensor,
    text: Tensor,
    logit_scale: float | Tensor = 10.0,
    bias: float | Tensor = -10.0,
    gather_distributed: bool = True,
) -> Tensor:
    """Pairwise sigmoid loss of SigLIP, Algorithm 1: "logits = dot(zimg, ztxt.T) * t + b;
    labels = 2 * eye(n) - ones(n); l = -sum(log_sigmoid(labels * logits)) / n".

    Args:
        image: (N, D) image embeddings; row i pairs with text row i. L2-normalised here.
        text: (N, D) text embeddings.
        logit_scale: t (SigLIP learns t = exp(t') from t' = log 10).
        bias: b (SigLIP starts from -10, so the n^2 - n negatives start near zero loss).
        gather_distributed: under DDP, this rank's images against the texts of all ranks; equal N on every rank.

    Returns:
        Scalar float32: the sum over this rank's N rows of the N_global pair terms, over N (the paper's 1 / n).
    """
    _check_pairs(image, text, "siglip_loss")
    image = F.normalize(image.float(), dim=1)  # (N, D)
    text = F.normalize(text.float(), dim=1)
    all_text, first = (all_gather_with_grad(text), rank() * image.shape[0]) if gather_distributed else (text, 0)
    logits = image @ all_text.T * logit_scale + bias  # (N, W N)
    rows = torch.arange(image.shape[0], device=image.device)
    labels = -torch.ones_like(logits)
    labels[rows, rows + first] = 1.0  # (N, W N): +1 on this rank's block of the diagonal, -1 elsewhere
    return -F.logsigmoid(labels * logits).sum() / image.shape[0]


def _scale_temperature(temperature: float, learnable: bool, max_logit_scale: float, name: str) -> Temperature:
    """tau = 1 / logit scale, learnt as log(1 / tau) and clamped so that the scale stays <= max_logit_scale."""
    check_temperature(temperature, name, f"set model.loss.init_args.temperature ({name}: 1 / the initial logit scale)")
    if not (max_logit_scale > 0 and math.isfinite(max_logit_scale)) or temperature * max_logit_scale < 1 - 1e-9:
        raise UserError(
            f"{name} max_logit_scale must be finite and >= 1 / temperature = {1 / temperature:.4g} (the scale starts at "
            f"1 / temperature), got {max_logit_scale}; CLIP clamps at 100"
        )
    min_value = min(1.0 / max_logit_scale, temperature) if learnable else None
    return Temperature(temperature, learnable, min_value, name=name)


class CLIPLoss(nn.Module):
    """Module form of `clip_loss`, called as `loss(image_z, text_z)` with (N, D) embeddings.

    CLIP section 2.5: "The learnable temperature parameter tau was initialized to the equivalent of 0.07 ... and
    clipped to prevent scaling the logits by more than 100". The parameter is the log logit scale log(1 / tau)
    (`temperature.log_inv`), initialised at log(1 / temperature); the scale it gives is clamped at
    `max_logit_scale` (no gradient while clamped).

    Args:
        temperature: tau, the initial one if learnt (CLIP: 0.07).
        learnable: learn the logit scale (CLIP does); False keeps 1 / temperature.
        max_logit_scale: the largest logit scale (CLIP: 100); also bounds a fixed one (temperature >= 1 / it).
        gather_distributed: under DDP, negatives from every rank (the global batch).
    """

    def __init__(
        self,
        temperature: float = 0.07,
        learnable: bool = True,
        max_logit_scale: float = 100.0,
        gather_distributed: bool = True,
    ):
        super().__init__()
        self.temperature = _scale_temperature(temperature, learnable, max_logit_scale, "CLIPLoss")
        self.gather_distributed = gather_distributed

    def logit_scale(self) -> float | Tensor:
        """The scale the logits are multiplied by, 1 / tau (a 0-d tensor when learnt)."""
        return 1.0 / self.temperature()

    def forward(self, image_z: Tensor, text_z: Tensor) -> Tensor:
        return clip_loss(image_z, text_z, self.logit_scale(), self.gather_distributed)


class SigLIPLoss(nn.Module):
    """Module form of `siglip_loss`, called as `loss(image_z, text_z)` with (N, D) embeddings.

    SigLIP section 3.3: "t = exp(t') ... we initialize t' = log 10 and b = -10". The parameters are log t
    (`temperature.log_inv`) and b; t is clamped at `max_logit_scale`.

    Args:
        temperature: 1 / t, the initial one if learnt (SigLIP: t = 10, so 0.1).
        bias: b, the initial one if learnt (SigLIP: -10).
        learnable: learn log t and b (SigLIP does); False keeps both fixed.
        max_logit_scale: the largest t (default 100, as CLIP's clamp); also bounds a fixed one.
        gather_distributed: under DDP, each rank's images against the texts of every rank.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        bias: float = -10.0,
        learnable: bool = True,
        max_logit_scale: float = 100.0,
        gather_distributed: bool = True,
    ):
        super().__init__()
        if not math.isfinite(bias):
            raise UserError(f"SigLIPLoss bias must be a finite number, got {bias}; SigLIP starts from -10")
        self.temperature = _scale_temperature(temperature, learnable, max_logit_scale, "SigLIPLoss")
        self.bias = nn.Parameter(torch.tensor(float(bias))) if learnable else bias
        self.gather_distributed = gather_distributed

    def logit_scale(self) -> float | Tensor:
        """t, the scale of the similarities (a 0-d tensor when learnt)."""
        return 1.0 / self.temperature()

    def forward(self, image_z: Tensor, text_z: Tensor) -> Tensor:
        return siglip_loss(image_z, text_z, self.logit_scale(), self.bias, self.gather_distributed)
