"""The README's results summary (block `results-summary` of README.md): one row per results page with its
claims (`simclr.ablation.claims`) grouped by the noise rule's outcome, rendered by `make pages` from the same
data as the pages.

A claim with fewer than three seeds a row goes under "tie" marked "n < 3: no call", one whose data file (or a
row of it) is missing marked "not yet measured"; a page with none of its data files says so and gives its
command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simclr.ablation.claims import AGREES, DISAGREES, NOT_MEASURED, TIE, judge, measured
from simclr.ablation.noise_rule import NO_CALL
from simclr.ablation.page_specs import Page
from simclr.ablation.variant_runs import Summary

HEADER = "| page | agree | disagree | tie |\n| --- | --- | --- | --- |\n"


def summary_row(page: Page, found: Mapping[str, Mapping[str, Summary]]) -> str:
    """The page's table row; `found` maps each of its present data files to its summaries."""
    link = f"[{page.name.replace('-', ' ')}](docs/{page.path})"
    groups: dict[str, list[str]] = {AGREES: [], DISAGREES: [], TIE: []}
    if not any(name in found for name in page.data):
        groups[AGREES].append("not yet measured from stored data (the page's command writes it)")
    else:
        for claim in page.claims:
            summaries = found.get(claim.data_of(page.data))
            outcome = judge(claim, summaries)[0] if measured(claim, summaries) else None
            if outcome in (AGREES, DISAGREES, TIE):
                groups[outcome].append(claim.short)
            else:
                groups[TIE].append(f"{claim.short} ({NO_CALL if outcome == NO_CALL else NOT_MEASURED})")
    cells = [link, *("; ".join(groups[g]) for g in (AGREES, DISAGREES, TIE))]
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|\n"


def render_summary(pages: Sequence[tuple[Page, Mapping[str, Mapping[str, Summary]]]]) -> str:
    """The block: the table's header and one row per (page, its data files' summaries) with claims."""
    return HEADER + "".join(summary_row(page, found) for page, found in pages if page.claims)
