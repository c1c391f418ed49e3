"""A paper's statement tested on two rows of a results page's data: `Claim` names the row the paper expects
to be higher, the row it is compared with and the metric; `judge` applies the noise rule
(`simclr.ablation.noise_rule.verdict`) to the two rows' per-seed values and `render_claims` writes a page's
list (block `claims:<page>`).

A claim "agrees" when the rule calls the difference in the paper's direction, "disagrees" when it calls it
the other way, is a "tie" when it calls nothing, and gets "n < 3: no call" when a row has fewer than three
seeds; before its data file (or a row of it) exists it is "not yet measured".

    judge(Claim("A head helps h", "SimCLR Figure 8", "a head helps h", "nonlinear_2", "none"), found)
    # -> ("agrees", "p = 0.004")
"""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simclr.ablation.noise_rule import NO_CALL, verdict
from simclr.ablation.variant_runs import H, Metric, Summary

AGREES, DISAGREES, TIE = "agrees", "disagrees", "tie"
NOT_MEASURED = "not yet measured"
OUTCOMES = {"higher": AGREES, "lower": DISAGREES, "tie": TIE}  # the rule's word on `row` -> the claim's


@dataclass(frozen=True)
class Claim:
    """The paper's statement that `row` is above `against` on `metric`, tested on one data file of a page."""

    statement: str  # the paper's statement, e.g. "A nonlinear head beats a linear one on h"
    reference: str  # where the paper makes it, with its numbers: "SimCLR Figure 8: by about 3%"
    short: str  # a few words for the README's summary table: "nonlinear above linear head"
    row: str  # the variant the paper expects to be higher
    against: str  # the variant it is compared with
    metric: Metric = H  # the metric of both rows
    against_metric: Metric | None = None  # the metric of `against` if not `metric` (h against z of one row)
    data: str | None = None  # stem of the data file; None: the page's only one

    @property
    def base_metric(self) -> Metric:
        return self.against_metric or self.metric

    def data_of(self, page_data: Sequence[str]) -> str:
        """The stem of the data file this claim reads, among the page's."""
        if self.data is None and len(page_data) != 1:
            raise ValueError(f"claim {self.short!r} must name one of the data files {', '.join(page_data)}")
        data = self.data or page_data[0]
        if data not in page_data:
            raise ValueError(f"claim {self.short!r} reads {data!r}, which is not a data file of its page")
        return data


def measured(claim: Claim, found: Mapping[str, Summary] | None) -> bool:
    """Whether the data (None: no data file) has both rows of the claim."""
    return found is not None and claim.row in found and claim.against in found


def _rows(claim: Claim, found: Mapping[str, Summary]) -> tuple[list[float], list[float]]:
    """The per-seed values of `row` and of `against`."""
    missing = [n for n in (claim.row, claim.against) if n not in found]
    if missing:
        raise ValueError(f"claim {claim.short!r} compares {missing[0]!r}, which the data has no rows of")
    return found[claim.row].values(claim.metric.key), found[claim.against].values(claim.base_metric.key)


def judge(claim: Claim, found: Mapping[str, Summary]) -> tuple[str, str]:
    """(outcome, p): AGREES, DISAGREES or TIE with the rule's p ("p = 0.012"), or (NO_CALL, "")."""
    values, base = _rows(claim, found)
    word = verdict(base, values)
    if word == NO_CALL:
        return NO_CALL, ""
    direction, _, p = word.partition(" (")
    return OUTCOMES[direction], p.removesuffix(")")


def _mean(values: Sequence[float], metric: Metric) -> str:
    return f"{metric.scale * statistics.fmean(values):.{metric.digits}f}" if values else "-"


def claim_line(claim: Claim, found: Mapping[str, Summary] | None) -> str:
    """One markdown bullet: "- **agrees**: <statement> (<reference>): <row> <mean> vs <against> <mean> on
    <metric>, <p>", wrapped to 110 columns; "not yet measured", without numbers, where `found` (None: no data
    file yet) lacks a row."""
    outcome, p, a, b = NOT_MEASURED, "", "", ""
    if measured(claim, found):
        outcome, p = judge(claim, found)
        values, base = _rows(claim, found)
        a, b = f" {_mean(values, claim.metric)}", f" {_mean(base, claim.base_metric)}"
    if claim.against_metric is None:
        rows = f"{claim.row}{a} vs {claim.against}{b} on {claim.metric.label}"
    else:
        rows = f"{claim.row}{a} on {claim.metric.label} vs {claim.against}{b} on {claim.base_metric.label}"
    where = f" in {claim.data}" if claim.data else ""  # a page with several data files says which one
    text = f"- **{outcome}**: {claim.statement} ({claim.reference}): {rows}{where}{f', {p}' if p else ''}"
    return textwrap.fill(text, 110, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False) + "\n"


def render_claims(claims: Sequence[Claim], page_data: Sequence[str], found: Mapping[str, Mapping[str, Summary]]) -> str:
    """The block `claims:<page>`: one bullet per claim; `found` maps each present data file to its summaries."""
    return "".join(claim_line(c, found.get(c.data_of(page_data))) for c in claims)
