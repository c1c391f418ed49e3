"""The papers' claims on a results page: a claim agrees, disagrees, ties or gets no call under the noise rule on
synthetic seeds, reads "not yet measured" without its data, and its bullet gives both rows' means and p."""

from collections.abc import Sequence

import pytest

from simclr.ablation.claims import AGREES, DISAGREES, NOT_MEASURED, TIE, Claim, claim_line, judge
from simclr.ablation.noise_rule import NO_CALL
from simclr.ablation.variant_runs import H, Summary, Z


def seeds(name: str, h: Sequence[float], z: Sequence[float] | None = None) -> Summary:
    """A variant with one run per value, h (and z) linear top-1 as fractions."""
    z = z or [None] * len(h)
    return Summary(name, [{"seed": i, "metrics": {H.key: a, Z.key: b}} for i, (a, b) in enumerate(zip(h, z))])


def test_a_claim_agrees_disagrees_ties_or_gets_no_call():
    found = {
        "base": seeds("base", [0.800, 0.801, 0.802], [0.780, 0.781, 0.782]),
        "up": seeds("up", [0.820, 0.821, 0.822]),  # 2 points above base, spread 0.1: called
        "same": seeds("same", [0.8001, 0.8011, 0.8021]),  # 0.01 points above: a tie
        "two": seeds("two", [0.850, 0.851]),  # two seeds only
    }

    def claim(row, against, *metrics):
        return Claim("Up beats base", "Paper Table 1: 2 points", f"{row} above {against}", row, against, *metrics)

    assert judge(claim("up", "base"), found) == (AGREES, "p < 0.001")
    assert judge(claim("base", "up"), found) == (DISAGREES, "p < 0.001")
    assert judge(claim("same", "base"), found)[0] == TIE and judge(claim("base", "same"), found)[0] == TIE
    assert judge(claim("two", "base"), found) == (NO_CALL, "")
    assert judge(claim("base", "base", H, Z), found) == (AGREES, "p < 0.001")  # h against z of one row
    assert claim_line(claim("up", "base"), found) == (
        "- **agrees**: Up beats base (Paper Table 1: 2 points): up 82.10 vs base 80.10 on linear top-1 h (%), "
        "p < 0.001\n"
    )
    assert " ".join(claim_line(claim("two", "base"), found).split()) == (
        f"- **{NO_CALL}**: Up beats base (Paper Table 1: 2 points): two 85.05 vs base 80.10 on linear top-1 h (%)"
    )
    assert " ".join(claim_line(claim("base", "base", H, Z), None).split()) == (
        f"- **{NOT_MEASURED}**: Up beats base (Paper Table 1: 2 points): base on linear top-1 h (%) vs base on "
        "linear top-1 z (%)"
    )
    assert claim_line(claim("up", "gone"), found).startswith(f"- **{NOT_MEASURED}**")  # a row the data lacks
    with pytest.raises(ValueError, match="compares 'gone', which the data has no rows of"):
        judge(claim("gone", "base"), found)
    with pytest.raises(ValueError, match="must name one of the data files"):
        claim("up", "base").data_of(["methods-b128", "methods-b32"])
    assert (
        Claim("s", "r", "k", "up", "base", data="methods-b32").data_of(["methods-b128", "methods-b32"]) == "methods-b32"
    )
