"""Distillation losses (SimCLR v2, Chen et al. 2020b, section 2, eq. 2).

Paper: "L_distill = - sum_{x_i in D} [ sum_y P^T(y|x_i; tau) log P^S(y|x_i; tau) ], where
P(y|x_i) = exp(f^task(x_i)[y] / tau) / sum_y' exp(f^task(x_i)[y'] / tau)". The teacher is fixed; "when
the number of labeled examples is significant, one can also combine the distillation loss with ground-truth
labeled examples using a weighted combination". Sums over examples are means here, so the loss does not
grow with the batch size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from simclr.errors import UserError


def check_distill_options(temperature: float, alpha: float) -> None:
    """One-line UserErrors for a temperature <= 0 or a labelled-loss weight outside [0, 1]."""
    if temperature <= 0:
        raise UserError(f"--temperature {temperature} must be > 0; SimCLR v2 distils at 1.0")
    if not 0 <= alpha <= 1:
        raise UserError(f"--alpha {alpha} is outside [0, 1]; pass the weight of the labelled loss, e.g. 0 or 0.5")


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Cross-entropy between the teacher's and the student's temperature-softened predictions.

    Args:
        student_logits: (B, K) logits of the student.
        teacher_logits: (B, K) logits of the teacher (no gradient flows to them).
        temperature: tau > 0; both softmaxes divide the logits by it.

    Returns:
        scalar: mean over the batch of -sum_y softmax(teacher / tau)[y] * log_softmax(student / tau)[y].
    """
    check_distill_options(temperature, 0.0)
    targets = F.softmax(teacher_logits.detach().float() / temperature, dim=1)  # (B, K)
    log_probs = F.log_softmax(student_logits.float() / temperature, dim=1)  # (B, K)
    return -(targets * log_probs).sum(1).mean()


def labelled_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy over the labelled rows only: labels (B,) with -1 for an unlabelled image, logits (B, K).

    Returns:
        scalar: the mean over labelled rows, 0 (with a gradient path) when the batch has none.
    """
    labelled = labels >= 0  # (B,)
    per_row = F.cross_entropy(logits.float(), labels.clamp_min(0), reduction="none")  # (B,)
    return (per_row * labelled).sum() / labelled.sum().clamp_min(1)


def distill_objective(
    student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, temperature: float = 1.0, alpha: float = 0.0
) -> Tensor:
    """(1 - alpha) * distillation_loss + alpha * labelled_cross_entropy (SimCLR v2's weighted combination).

    Args:
        student_logits, teacher_logits: (B, K).
        labels: (B,) int64, -1 where the image's label is not in the labelled subset.
        temperature: tau of the distillation term.
        alpha: weight of the labelled loss in [0, 1].
    """
    check_distill_options(temperature, alpha)
    loss = distillation_loss(student_logits, teacher_logits, temperature)
    if alpha == 0:
        return loss
    return (1 - alpha) * loss + alpha * labelled_cross_entropy(student_logits, labels)
