"""Temperature of a contrastive loss: a fixed number, or learnt in log space and clamped as in CLIP.

CLIP (Radford et al. 2021, section 2.5): "The learnable temperature parameter tau was initialized to the
equivalent of 0.07 ... and clipped to prevent scaling the logits by more than 100". Here the parameter is
log(1 / tau), so tau stays positive and steps are relative; the clamp keeps tau >= `min_value` and passes
no gradient while it is active. Nothing is read back to the host.
"""

import math

import torch
from torch import Tensor, nn

from simclr.errors import UserError

MAX_TEMPERATURE = 100.0  # above it, cosine logits s / tau lie within +-0.01: every pair scores alike


def check_temperature(
    value: float,
    name: str,
    fix: str = "set model.loss.init_args.temperature to 0.1-0.5 as SimCLR does",
    max_value: float = math.inf,
) -> None:
    """One clear error for a temperature that is not a finite number in (0, max_value].

    Args:
        value: tau.
        name: the owner, for the message (e.g. "NTXentLoss").
        fix: the end of the message: which option to set, to what.
        max_value: the largest tau allowed; the loss modules (a config's choice) use MAX_TEMPERATURE, the pure
            loss functions none (their tau -> infinity limit is well defined).
    """
    if not math.isfinite(value):
        raise UserError(f"{name} temperature must be > 0 and finite, got {value}; {fix}")
    if not value > 0:
        raise UserError(f"{name} temperature must be > 0, got {value}; {fix}")
    if value > max_value:
        raise UserError(
            f"{name} temperature must be <= {max_value:g}, got {value}: the logits s / tau would all lie within "
            f"+-{1 / value:.2g}, so every pair scores nearly alike and little is learnt; {fix}"
        )


class Temperature(nn.Module):
    """tau of a loss: `forward()` returns the float `value`, or a 0-d tensor if `learnable`.

    Args:
        value: tau (fixed) or its initial value (learnable).
        learnable: learn log(1 / tau) with the rest of the model (it lands in the optimizer's
            no-weight-decay group, being 0-d).
        min_value: lower clamp of a learnt tau (default 0.01 as in CLIP: logits scaled by at most 100); only
            for a learnable tau, so giving it for a fixed one is an error.
        name: the owning loss, for error messages.
    """

    def __init__(self, value: float, learnable: bool = False, min_value: float | None = None, name: str = "loss"):
        super().__init__()
        check_temperature(value, name, max_value=MAX_TEMPERATURE)
        if min_value is not None and not learnable:
            raise UserError(
                f"{name} min_temperature {min_value} only bounds a learnt temperature; set learnable_temperature: true "
                f"or drop min_temperature"
            )
        min_value = 0.01 if min_value is None else min_value
        if learnable and not 0 < min_value <= value:  # False for NaN too
            raise UserError(f"{name} min_temperature must be in (0, temperature={value}], got {min_value}")
        self.value = value
        self.min_value = min_value
        self.log_inv = nn.Parameter(torch.tensor(math.log(1.0 / value))) if learnable else None

    def forward(self) -> float | Tensor:
        if self.log_inv is None:
            return self.value
        return torch.exp(-self.log_inv.clamp(max=math.log(1.0 / self.min_value)))  # tau >= min_value

    def extra_repr(self) -> str:
        kind = f"learnable, init={self.value}, min={self.min_value}" if self.log_inv is not None else f"{self.value}"
        return f"temperature={kind}"
