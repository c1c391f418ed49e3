"""Which row of a comparison wins (frozen probe, fine-tuned, scratch, distilled student), with a stated noise margin.

A row wins only when its test top-1 exceeds every other row's by more than the margin; rows within the margin
of the best tie with it. The margin is two standard errors of the difference of two independent accuracies
measured on the same number of test images, at the rows' mean accuracy p, and at least half a point:

    margin = max(0.005, 2 * sqrt(2 * p * (1 - p) / test_images))

(0.85 points for p = 0.9 on 10000 test images, 2.7 on 1000), about the seed-to-seed spread of single
fine-tuning runs on Fashion-MNIST (docs/finetune.md). A margin from one seed cannot see that spread: repeat
with --seed for a claim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_MARGIN = 0.005  # half a point of top-1: no smaller lead is called a win
STANDARD_ERRORS = 2.0  # the margin in standard errors of a difference of two accuracies
RULE = (
    "A row wins only when its test top-1 exceeds every other row of its comparison by more than the margin: two "
    "standard errors of a difference of two accuracies on the test set, 2 * sqrt(2 p (1 - p) / n) at the rows' mean "
    "top-1 p, and at least 0.5 points; rows within the margin of the best tie with it."
)


def margin(top1s: Sequence[float], test_images: int) -> float:
    """The lead (in [0, 1] units of top-1) a row needs over another to win: see the module docstring.

    Args:
        top1s: the compared rows' test top-1 in [0, 1].
        test_images: how many test images each was measured on.
    """
    p = sum(top1s) / len(top1s)
    return max(MIN_MARGIN, STANDARD_ERRORS * math.sqrt(2 * p * (1 - p) / max(1, test_images)))


def winners(rows: Sequence[tuple[str, float]], test_images: int) -> list[int]:
    """The positions in `rows` of the best row and of every row within the margin of it (one: a clear win).

    Args:
        rows: (label, test top-1 in [0, 1]) per row.
        test_images: the size of the test set they were measured on.
    """
    best = max(top1 for _, top1 in rows)
    allowed = margin([top1 for _, top1 in rows], test_images)
    return [i for i, (_, top1) in enumerate(rows) if best - top1 <= allowed]


def verdict(rows: Sequence[tuple[str, float]], test_images: int) -> str:
    """One sentence saying which row wins, or which tie, and by how much (in points of top-1).

    e.g. "fine-tuned simclr (LP-FT) wins: 90.50, +0.80 over frozen probe on h, +1.20 over scratch (a win needs
    a lead of more than 0.85 points)" or "tie: fine-tuned simclr (LP-FT) 90.50 and scratch 90.10 are within
    0.85 points of the best; frozen probe on h trails the best by 1.80".
    """
    if len(rows) < 2:
        return "one row: nothing to compare"
    top = winners(rows, test_images)
    best = max(top1 for _, top1 in rows)
    points = 100 * margin([top1 for _, top1 in rows], test_images)
    behind = [row for i, row in enumerate(rows) if i not in top]
    if len(top) == 1:
        leads = ", ".join(f"+{100 * (best - top1):.2f} over {label}" for label, top1 in behind)
        return (
            f"{rows[top[0]][0]} wins: {100 * best:.2f}, {leads} (a win needs a lead of more than {points:.2f} points)"
        )
    tied = [f"{rows[i][0]} {100 * rows[i][1]:.2f}" for i in top]
    trailing = "".join(f"; {label} trails the best by {100 * (best - top1):.2f}" for label, top1 in behind)
    return f"tie: {', '.join(tied[:-1])} and {tied[-1]} are within {points:.2f} points of the best{trailing}"
