"""docs/results/image-text.md's tables and claims, and the README's image-text line, rendered from the JSON of
`benchmarks/image_text.py` (and its throughput JSON) with the results pages' noise rule
(`simclr.ablation.noise_rule`): a claim of a paper is two rows of the table, called agree / disagree / tie.

    python benchmarks/image_text.py --render
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from common import mean_std

from simclr.ablation.claims import OUTCOMES
from simclr.ablation.noise_rule import NO_CALL, RULE, verdict
from simclr.ablation.pages import replace_block

README = Path("README.md")

PAGE = Path("docs/results/image-text.md")
NAMES = {"simclr": "SimCLR (the demo)", "clip": "CLIP", "siglip": "SigLIP", "lit": "LiT (locked SimCLR tower)",
         "slip": "SLIP"}  # fmt: skip


def render_tables(record: dict, throughput: dict | None) -> str:
    """The page's tables (markdown) from this script's JSON (and a throughput JSON of it), the noise rule applied."""
    rows = record["results"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    of = {v: [r for r in rows if r["variant"] == v] for v in variants}

    def values(variant: str, key: str) -> list[float]:
        return [r[key] for r in of.get(variant, []) if r.get(key) is not None]

    env = record
    run = record["settings"]
    lines = [f"Data: `benchmarks/results/cpu/image_text.json`, {env['device_name']}, {env['threads']} threads, torch "
             f"{env['torch']}, lightning {env['lightning']}; seeds {sorted({r['seed'] for r in rows})}; run "
             f"{run.get('date', '?')[:10]} at commit {(run.get('commit') or '?')[:7]}.", "",
             RULE, "",
             "| run | n | zero-shot top-1 (%) | vs CLIP | image -> text R@1 / R@5 / R@10 (%) "
             "| text -> image R@1 / R@5 / R@10 (%) | linear probe h (%) | vs SimCLR |",
             "|---|---:|---:|---|---|---|---:|---|"]  # fmt: skip
    for v in variants:
        zs = values(v, "zeroshot_top1")
        recall = [" / ".join(mean_std(values(v, f"{d}_r{k}"), digits=1) for k in (1, 5, 10)) if zs else "-"
                  for d in ("i2t", "t2i")]  # fmt: skip
        vs_clip = verdict(values("clip", "zeroshot_top1"), zs) if zs and v != "clip" else "-"
        vs_simclr = verdict(values("simclr", "h_linear_top1"), values(v, "h_linear_top1")) if v != "simclr" else "-"
        lines.append(f"| {NAMES.get(v, v)} | {len(of[v])} | {mean_std(zs)} | {vs_clip} | {recall[0]} | {recall[1]} "
                     f"| {mean_std(values(v, 'h_linear_top1'))} | {vs_simclr} |")  # fmt: skip
    if throughput is not None:
        lines += ["", f"Throughput (`benchmarks/results/cpu/image_text_throughput.json`, {throughput['device_name']}, "
                  f"{throughput['threads']} threads): training pairs per second over a whole fit of "
                  f"{throughput['results'][0]['steps']} steps at B = {throughput['results'][0]['batch']}.", "",
                  "| run | pairs / s |", "|---|---:|"]  # fmt: skip
        for r in throughput["results"]:
            lines.append(f"| {NAMES.get(r['variant'], r['variant'])} | {r['pairs_per_s']:.1f} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Claim:
    """A paper's statement that run `row` is above run `against` on `metric`."""

    statement: str
    reference: str
    short: str  # a few words for the README's line
    row: str
    against: str
    metric: str = "zeroshot_top1"


CLAIMS = (
    Claim("The sigmoid loss is ahead of the softmax at small batches", "SigLIP, Zhai et al. 2023, Figure 2",
          "SigLIP above CLIP at B 128", "siglip", "clip"),
    Claim("A locked pretrained image tower beats training both towers from scratch",
          "LiT, Zhai et al. 2022, abstract", "LiT above CLIP", "lit", "clip"),
    Claim("Adding SimCLR's loss to CLIP's improves zero-shot transfer", "SLIP, Mu et al. 2022, abstract",
          "SLIP above CLIP zero-shot", "slip", "clip"),
    Claim("Adding SimCLR's loss to CLIP's improves the linear probe", "SLIP, Mu et al. 2022, abstract",
          "SLIP above CLIP on the probe", "slip", "clip", "h_linear_top1"),
)  # fmt: skip


def values_of(record: dict, variant: str, key: str) -> list[float]:
    """The metric of every seed of `variant` that measured it."""
    return [r[key] for r in record["results"] if r["variant"] == variant and r.get(key) is not None]


def judge(record: dict, claim: Claim) -> tuple[str, str]:
    """(outcome, the rule's word): agrees / disagrees / tie, or NO_CALL with fewer than three seeds a row."""
    word = verdict(values_of(record, claim.against, claim.metric), values_of(record, claim.row, claim.metric))
    return (NO_CALL if word == NO_CALL else OUTCOMES[word.split()[0]]), word


def render_claims(record: dict) -> str:
    """The page's list of claims with their outcomes and the two rows' means."""
    lines = []
    for claim in CLAIMS:
        outcome, word = judge(record, claim)
        row, against = (statistics.fmean(values_of(record, v, claim.metric)) for v in (claim.row, claim.against))
        lines.append(f"- **{outcome}**: {claim.statement} ({claim.reference}): {NAMES[claim.row]} {100 * row:.2f} "
                     f"vs {NAMES[claim.against]} {100 * against:.2f} on {claim.metric}, {word}")  # fmt: skip
    return "\n".join(lines)


def render_line(record: dict) -> str:
    """The README's image-text line: CLIP's zero-shot top-1 against chance and the claims grouped by outcome."""
    seeds = sorted({r["seed"] for r in record["results"]})
    groups: dict[str, list[str]] = {}
    for claim in CLAIMS:
        groups.setdefault(judge(record, claim)[0], []).append(claim.short)
    said = "; ".join(f"{outcome}: {', '.join(shorts)}" for outcome, shorts in groups.items())
    return (f"[image-text](docs/results/image-text.md) ({len(seeds)} seeds, the same noise rule; "
            f"`python benchmarks/image_text.py --render`): CLIP classifies zero-shot from prompts at "
            f"{mean_std(values_of(record, 'clip', 'zeroshot_top1'))}% (chance 10%); {said}.")  # fmt: skip


def render_page(page: Path, record: dict, throughput: dict | None) -> str:
    """The page's text with its blocks `image-text-tables` and `image-text-claims` rendered."""
    text = replace_block(page.read_text(), "image-text-tables", render_tables(record, throughput) + "\n", str(page))
    return replace_block(text, "image-text-claims", render_claims(record) + "\n", str(page))


def render_readme(readme: Path, record: dict) -> str:
    """The README's text with its block `image-text-summary` (the image-text line) rendered."""
    return replace_block(readme.read_text(), "image-text-summary", render_line(record) + "\n", str(readme))
