"""The representations a model has: h (the encoder's output), each hidden layer of the projection head
(head_1, head_2, ...) and z; a model trained with `head: torch.nn.Identity` has h only."""

from __future__ import annotations

from torch import nn


def projection_head(head: nn.Module | None) -> nn.Module | None:
    """`head` if it is a projection MLP with readable layers (`forward_all`, `layers`), else None (e.g. a model
    trained with `head: torch.nn.Identity` has no z of its own)."""
    return head if hasattr(head, "forward_all") and hasattr(head, "layers") else None


def representation_names(head: nn.Module | None) -> list[str]:
    """Keys of `extract_representations`' dict: "h", "head_1" ... "head_{L-1}", "z" ("h" only without a head)."""
    if head is None:
        return ["h"]
    hidden = len(head.layers) - 1
    return ["h"] + [f"head_{i}" for i in range(1, hidden + 1)] + ["z"]
