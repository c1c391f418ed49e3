"""The results pages' noise rule: Student's t tail against closed forms and a slow numerical integral, Welch's
test on hand-made samples, and the verdicts the rule gives."""

import math

import pytest

from simclr.ablation.noise_rule import NO_CALL, regularized_incomplete_beta, t_two_sided_p, verdict, welch_t_test


def slow_two_sided_p(t: float, df: float, steps: int = 200_000) -> float:
    """1 - the integral of Student's t density over [-|t|, |t|], by the midpoint rule."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    width = 2 * abs(t) / steps
    inside = sum(
        math.exp(log_norm - (df + 1) / 2 * math.log1p((-abs(t) + (i + 0.5) * width) ** 2 / df)) for i in range(steps)
    )
    return 1.0 - inside * width


def test_t_tail_closed_forms():
    assert t_two_sided_p(1.0, 1.0) == pytest.approx(0.5, abs=1e-12)  # Cauchy: P(|T| > 1) = 1/2
    for t in (0.3, 1.0, 4.0):
        assert t_two_sided_p(t, 2.0) == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-12)
    assert t_two_sided_p(2.776445, 4.0) == pytest.approx(0.05, abs=1e-6)  # the 97.5% quantile of t(4)
    assert t_two_sided_p(1.959964, 1e7) == pytest.approx(0.05, abs=1e-6)  # large df: the normal
    assert t_two_sided_p(0.0, 3.0) == 1.0 and t_two_sided_p(math.inf, 3.0) == 0.0
    assert t_two_sided_p(-2.0, 5.0) == t_two_sided_p(2.0, 5.0)
    assert regularized_incomplete_beta(2.0, 3.0, 0.4) == pytest.approx(0.5248, abs=1e-12)  # 1 - sum of a binomial


@pytest.mark.parametrize(("t", "df"), [(0.5, 1.0), (2.3238, 2.9412), (3.0, 4.0), (1.7, 7.5), (5.0, 3.2)])
def test_t_tail_matches_a_slow_integral(t, df):
    assert t_two_sided_p(t, df) == pytest.approx(slow_two_sided_p(t, df), abs=1e-6)


def test_welch_on_hand_made_samples():
    # a: mean 2, variance 1; b: mean 5, variance 4 -> se^2 = 1/3 + 4/3, df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2)
    t, df, p = welch_t_test([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
    assert t == pytest.approx(-3 / math.sqrt(5 / 3)) and df == pytest.approx(50 / 17)
    assert p == pytest.approx(slow_two_sided_p(t, df), abs=1e-6) and 0.1 < p < 0.11
    assert welch_t_test([3.0, 5.0, 7.0], [1.0, 2.0, 3.0])[0] == pytest.approx(-t)  # antisymmetric
    assert welch_t_test([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) == (0.0, math.inf, 1.0)  # no spread, equal
    assert welch_t_test([0.6, 0.6, 0.6], [0.5, 0.5, 0.5])[2] == 0.0  # no spread, different
    with pytest.raises(ValueError, match="two values a side"):
        welch_t_test([1.0], [1.0, 2.0])


def test_verdicts_the_rule_gives():
    clear = verdict([0.8132, 0.8130, 0.8135], [0.8196, 0.8201, 0.8190])  # 0.6 points apart, spread 0.03
    assert clear.startswith("higher (p") and verdict([0.8196, 0.8201, 0.8190], [0.8132, 0.8130, 0.8135]).startswith(
        "lower (p"
    )
    assert verdict([1.0, 2.0, 3.0], [3.0, 5.0, 7.0]) == "tie (p = 0.104)"  # a gap of 3 with this spread: a tie
    assert verdict([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) == "tie (p = 1.000)"
    assert verdict([0.81, 0.82], [0.90, 0.91, 0.92]) == NO_CALL == "n < 3: no call"  # however large the gap
    assert verdict([0.81, 0.82, 0.83], [0.90]) == NO_CALL
    # the threshold: just inside and just outside p = 0.05 with three seeds a side (df = 4)
    spread = [-1.0, 0.0, 1.0]  # standard deviation 1: the standard error of the gap is sqrt(2/3)
    at = 2.776445 * math.sqrt(2 / 3)
    assert verdict(spread, [x + at * 1.001 for x in spread]).startswith("higher")
    assert verdict(spread, [x + at * 0.999 for x in spread]).startswith("tie")


def test_method_verdicts_against_the_reference_and_the_no_call_note():
    from simclr.ablation.method_table import MethodRow, format_method_verdicts

    def rows(seeds):
        return [
            MethodRow(name, "M", seed, top1 + 0.001 * seed, 0.7, None, 2, None, 1.0)
            for seed in range(seeds)
            for name, top1 in (("simclr", 0.80), ("byol", 0.85))
        ]

    three = format_method_verdicts(rows(3))
    assert "| byol | 3 | higher (p < 0.001) | tie (p = 1.000) |" in three and "no call" not in three
    one = format_method_verdicts(rows(1))
    assert one.startswith("one seed: the noise rule (3+ seeds, Welch's t-test p < 0.05) makes no call")
    assert f"| byol | 1 | {NO_CALL} | {NO_CALL} |" in one
    with pytest.raises(ValueError, match="reference method 'moco'"):
        format_method_verdicts(rows(1), reference="moco")
