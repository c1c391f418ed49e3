"""The noise rule of the results pages: when a difference between two sets of runs is called, and when it is
a tie.

A difference is called when Welch's t-test (two-sided, unequal variances) gives p < 0.05 and each side has at
least three seeds; a difference the test does not call is a tie, and a side with fewer than three seeds gets
no call at all. Welch's test, not "the gap exceeds twice the pooled standard deviation", because it weighs the
number of seeds (three seeds need a gap of about 2.8 standard errors, more seeds less) and does not assume
that both variants vary alike (a short run at a large batch often varies less than a long one at a small).
No correction is made for the number of comparisons on a page: among 20 true ties about one is called.

    verdict([0.8132, 0.8130, 0.8135], [0.8196, 0.8201, 0.8190])   # -> "higher (p < 0.001)"
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

P_THRESHOLD = 0.05  # two-sided p below which a difference is called
MIN_SEEDS = 3  # seeds each side needs before any call
NO_CALL = f"n < {MIN_SEEDS}: no call"
RULE = (
    f"Noise rule: a difference is called only when Welch's t-test over the seeds (two-sided, unequal variances) "
    f"gives p < {P_THRESHOLD} and both rows have at least {MIN_SEEDS} seeds; otherwise it is a tie. Rows with "
    f'fewer than {MIN_SEEDS} seeds are marked "{NO_CALL}". No correction is made for the number of comparisons '
    f"on a page (among 20 true ties about one is called). Tables show the mean ± standard deviation over seeds "
    f"and n, the number of seeds; `simclr.ablation.noise_rule` applies the rule, `make pages` renders the tables."
)


def _incomplete_beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),  # even step
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),  # odd step
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and x in [0, 1]."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x = {x} is outside [0, 1]")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _incomplete_beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _incomplete_beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with `df` (> 0, not necessarily whole) degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom {df} must be > 0")
    if math.isinf(t):
        return 0.0
    return regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's two-sample t-test of mean(a) - mean(b): (t, Welch-Satterthwaite degrees of freedom, two-sided p).

    Both samples need two values or more. With no spread on either side the test is exact: p = 1 for equal
    means, else 0 (t infinite).
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's test needs two values a side, got {len(a)} and {len(b)}")
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)  # squared standard errors
    diff = statistics.fmean(a) - statistics.fmean(b)
    if va + vb == 0.0:
        return (0.0, math.inf, 1.0) if diff == 0.0 else (math.copysign(math.inf, diff), math.inf, 0.0)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, df, t_two_sided_p(t, df)


def no_call_note(seeds: int) -> str:
    """What a report with fewer than MIN_SEEDS seeds says instead of comparing, e.g. "one seed: the noise rule
    (3+ seeds, Welch's t-test p < 0.05) makes no call; the numbers above are measurements, not comparisons."."""
    count = "one seed" if seeds == 1 else f"{seeds} seeds"
    return (
        f"{count}: the noise rule ({MIN_SEEDS}+ seeds, Welch's t-test p < {P_THRESHOLD}) makes no call; "
        f"the numbers above are measurements, not comparisons."
    )


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict(reference: Sequence[float], values: Sequence[float]) -> str:
    """The rule's word on `values` against `reference` (one value per seed each): "higher (p = ...)",
    "lower (p = ...)", "tie (p = ...)", or NO_CALL when either side has fewer than MIN_SEEDS values."""
    if len(reference) < MIN_SEEDS or len(values) < MIN_SEEDS:
        return NO_CALL
    t, _, p = welch_t_test(values, reference)
    if p < P_THRESHOLD:
        return f"{'higher' if t > 0 else 'lower'} ({format_p(p)})"
    return f"tie ({format_p(p)})"
