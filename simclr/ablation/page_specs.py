"""What each results page shows: its data files, tables (rows, metric columns, verdict columns and their
reference rows), figures, the paper's claims it tests and the command that writes its data; rendered by
`simclr.ablation.pages`.

A page's tables read docs/results/data/<data>.jsonl (`simclr.ablation.run_data`); a verdict column gives the
noise rule's word (`simclr.ablation.noise_rule`) on one metric of each row against its reference row. The
claims (`simclr.ablation.paper_claims`) compare two rows of the same data the same way.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from simclr.ablation.claims import Claim
from simclr.ablation.paper_claims import (
    AUGMENTATION_GRID,
    BATCH_SIZE,
    COLOR_STRENGTH,
    DEMO,
    NEGATIVES,
    PROJECTION_HEAD,
    TEMPERATURE,
    method_claims,
)
from simclr.ablation.variant_runs import KNN, H, Metric, Summary, Z

DATA_FOLDER = "results/data"  # data files, relative to docs/


# The row a verdict compares with: a variant name, variant -> its own reference, a function of the summaries, or
# None for the same row (then `against` names the other metric).
Reference = str | Mapping[str, str] | Callable[[Mapping[str, Summary]], str] | None


@dataclass(frozen=True)
class Verdict:
    """A column with the noise rule's word on a metric against a reference."""

    label: str  # column header
    metric: str
    reference: Reference = None
    against: str | None = None  # the reference's metric; default `metric`


FACT_LABELS = {"batch_size": "B", "steps": "steps", "pairs_seen": "pairs seen"}


@dataclass(frozen=True)
class Table:
    """One block `table:<name>`: one row per variant of a data file."""

    name: str
    data: str  # stem of docs/results/data/<data>.jsonl
    metrics: tuple[Metric, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    variants: tuple[str, ...] | None = None  # rows in this order; None: every trained variant, in data order
    facts: tuple[str, ...] = ()  # FACT_LABELS keys shown before n
    baselines: bool = True  # the baseline rows (random_h, pixels, untrained) at the end
    pairs: bool = False  # instead: the Figure 5 matrix of mean h top-1 (simclr compare-augs pairs)
    caption: str = ""  # a sentence above the table


@dataclass(frozen=True)
class Figure:
    """A PNG drawn from a data file by the comparison's own plot code."""

    data: str
    path: str  # relative to docs/
    title: str


@dataclass(frozen=True)
class Page:
    path: str  # relative to docs/
    command: str  # shell lines that write every data file of the page (shown in the block `command`)
    tables: tuple[Table, ...]
    figures: tuple[Figure, ...] = ()
    claims: tuple[Claim, ...] = ()  # the papers' statements tested on the page's rows (block `claims:<name>`)

    @property
    def name(self) -> str:
        return Path(self.path).stem

    @property
    def data(self) -> list[str]:
        return list(dict.fromkeys(t.data for t in self.tables))


def best_single(summaries: Mapping[str, Summary]) -> str:
    """The single transformation (one part) with the highest mean h linear top-1."""
    singles = [s for s in summaries.values() if len(s.parts) == 1 and s.values(H.key)]
    if not singles:
        raise ValueError("no single transformation in the data to compare the pairs with")
    return max(singles, key=lambda s: statistics.fmean(s.values(H.key))).variant


def _vs(reference: str) -> tuple[Verdict, Verdict]:
    return (Verdict(f"linear h vs {reference}", H.key, reference), Verdict(f"kNN h vs {reference}", KNN.key, reference))


def _compare_command(experiment: str, name: str, threads: int = 1) -> str:
    return (
        f"OMP_NUM_THREADS={threads} simclr compare --experiment configs/experiments/{experiment}.yaml --accelerator cpu \\\n"
        f"    --out_dir runs/experiments/{experiment} --data_file docs/{DATA_FOLDER}/{name}.jsonl\nmake pages"
    )


TEMPERATURES = ("0.05", "0.1", "0.2", "0.5", "1.0")
METHODS = ("simclr", "sigmoid", "moco_v2", "byol", "patches", "multicrop", "supcon")
METHOD_FILES = (
    "configs/methods/simclr.yaml configs/loss/sigmoid.yaml configs/methods/moco_v2.yaml configs/methods/byol.yaml \\\n"
    "   configs/methods/patches.yaml configs/methods/multicrop.yaml configs/loss/supcon.yaml"
)
SAME_TAU = {f"dot_t{t}": f"norm_t{t}" for t in TEMPERATURES}  # each dot-product row against cosine at its tau
CACHED_VS_PLAIN = {"b4096_cached_equal_images": "b512_300steps"}  # B 4096 (gradient cache) vs B 512, ~154k pairs
SOFTMAX_AT_B = {"sigmoid_b32": "softmax_b32", "sigmoid_b128": "keep_all", "sigmoid_b512": "softmax_b512"}

PAGES: tuple[Page, ...] = (
    Page(
        "results.md",
        _compare_command("demo", "demo"),
        (
            Table("demo", "demo", (H, Z, KNN),
                  (Verdict("linear h vs random_h", H.key, "random_h"), Verdict("linear h vs pixels", H.key, "pixels"),
                   Verdict("kNN h vs pixels", KNN.key, "pixels"), Verdict("linear h vs z (same runs)", H.key, None, Z.key)),
                  ("demo",)),
        ),
        (),
        DEMO,
    ),
    Page(
        "results/batch-size.md",
        _compare_command("batch_size", "batch-size", threads=2),
        (
            Table("batch-size", "batch-size", (H, KNN),
                  (*_vs("b128_300steps"), Verdict("linear h vs B 512 at equal images", H.key, CACHED_VS_PLAIN)),
                  ("b32_300steps", "b32_equal_images", "b128_300steps", "b512_equal_images", "b512_300steps",
                   "b4096_cached_equal_images"),
                  facts=("batch_size", "steps", "pairs_seen")),
        ),
        (Figure("batch-size", "results/batch-size.png", "batch size x steps, same images"),),
        BATCH_SIZE,
    ),
    Page(
        "results/color-strength.md",
        _compare_command("color_strength", "color-strength"),
        (
            Table("color-strength", "color-strength", (H, KNN), _vs("color_0.5"),
                  ("crop_only", "color_0.25", "color_0.5", "color_1.0")),
        ),
        (Figure("color-strength", "results/color-strength.png", "colour strength (with crop)"),),
        COLOR_STRENGTH,
    ),
    Page(
        "results/temperature.md",
        _compare_command("temperature", "temperature"),
        (
            Table("temperature", "temperature", (H, KNN),
                  (Verdict("linear h vs norm_t0.2", H.key, {f"norm_t{t}": "norm_t0.2" for t in TEMPERATURES}),
                   Verdict("linear h vs cosine at the same tau", H.key, SAME_TAU),
                   Verdict("kNN h vs cosine at the same tau", KNN.key, SAME_TAU)),
                  tuple(f"{kind}_t{t}" for kind in ("norm", "dot") for t in TEMPERATURES)),
        ),
        (Figure("temperature", "results/temperature.png", "temperature, with and without l2 normalisation"),),
        TEMPERATURE,
    ),
    Page(
        "results/projection-head.md",
        _compare_command("projection_head", "projection-head"),
        (
            Table("projection-head", "projection-head", (H, Z, KNN),
                  (Verdict("linear h vs nonlinear_2", H.key, "nonlinear_2"),
                   Verdict("linear h vs random_h", H.key, "random_h"),
                   Verdict("h vs z (same runs)", H.key, None, Z.key)),
                  ("none", "linear", "nonlinear_2", "nonlinear_3")),
        ),
        (Figure("projection-head", "results/projection-head.png", "projection head"),),
        PROJECTION_HEAD,
    ),
    Page(
        "results/negatives.md",
        _compare_command("negatives", "negatives", threads=2),
        (
            Table("negatives-pruning", "negatives", (H, KNN), _vs("keep_all"),
                  ("keep_all", "drop_hardest", "drop_easiest", "drop_random", "drop_hardest_equal_pairs",
                   "drop_easiest_equal_pairs", "drop_random_equal_pairs"), facts=("steps",), baselines=False),
            Table("negatives-loss", "negatives", (H, KNN),
                  (Verdict("linear h vs softmax at the same B", H.key, SOFTMAX_AT_B),
                   Verdict("kNN h vs softmax at the same B", KNN.key, SOFTMAX_AT_B)),
                  ("softmax_b32", "keep_all", "softmax_b512", "sigmoid_b32", "sigmoid_b128", "sigmoid_b512"),
                  facts=("batch_size",)),
        ),
        (Figure("negatives", "results/negatives.png", "negatives: pruning, softmax vs sigmoid"),),
        NEGATIVES,
    ),
    Page(
        "results/augmentation-grid.md",
        "OMP_NUM_THREADS=1 simclr compare-augs --experiment configs/experiments/augment/augmentation_grid.yaml \\\n"
        "    --accelerator cpu --out_dir runs/experiments/augmentation_grid \\\n"
        f"    --data_file docs/{DATA_FOLDER}/augmentation-grid.jsonl\nmake pages",
        (
            Table("augmentation-grid-pairs", "augmentation-grid", pairs=True,
                  caption="Linear top-1 on h (%), mean over the seeds; rows = first transformation, columns = second, "
                          "diagonal = the transformation alone:"),
            Table("augmentation-grid", "augmentation-grid", (H, Z),
                  (Verdict("h vs untrained", H.key, "untrained"), Verdict("h vs best single", H.key, best_single)),
                  caption="Every strategy, against the untrained encoder and against the single block with the "
                          "highest mean (`best single`):"),
        ),
        (Figure("augmentation-grid", "results/augmentation-grid.png", "h linear top-1, mean over seeds"),),
        AUGMENTATION_GRID,
    ),
    Page(
        "methods.md",
        'BASE="--config configs/fashion_mnist.yaml --config configs/experiments/base/fashion_mnist_small.yaml"\n'
        f'M="{METHOD_FILES}"\n'
        "for B in 128 32; do\n"
        "  OMP_NUM_THREADS=1 simclr compare $BASE --methods $M --max_steps 300 --batch_size $B --seeds 0 1 2 \\\n"
        "      --probe_images 10000 --accelerator cpu --out_dir runs/methods_b$B \\\n"
        f"      --data_file docs/{DATA_FOLDER}/methods-b$B.jsonl\n"
        "done\nmake pages",
        tuple(
            Table(f"methods-b{b}", f"methods-b{b}", (H, KNN), _vs("simclr"), METHODS,
                  caption=f"**B = {b}**{' (the batch of `configs/fashion_mnist.yaml`)' if b == 128 else ''}:")
            for b in (128, 32)
        ),
        tuple(Figure(f"methods-b{b}", f"methods_b{b}.png", f"methods, same budget, B = {b}") for b in (128, 32)),
        tuple(claim for b in (128, 32) for claim in method_claims(b)),
    ),
)  # fmt: skip
