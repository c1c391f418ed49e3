"""Augmentation strategies to compare: a name and the transforms that make one view, in order.

Strategies are data, built outside the runner (`simclr.ablation.runner`): in Python from the building blocks of
`augmentations.presets` (`crop(28)`, `color(0.5)`, ...) with the generators below, or from a YAML file
(`load_strategies`) that names transform classes with `class_path`/`init_args`, e.g.

    blocks:                       # named building blocks: each a list of transforms, applied in order
      crop:
        - class_path: augmentations.RandomResizedCrop
          init_args: {size: 28, scale: [0.2, 1.0]}
      noise:
        - class_path: augmentations.RandomGaussianNoise
          init_args: {std: 0.1, p: 1.0}
    singles: true                 # one strategy per block
    pairs: true                   # every ordered pair of two different blocks (the paper's Figure 5)
    compositions:                 # named strategies made of blocks in the order given
      crop+noise+crop: [crop, noise, crop]
    pipelines:                    # whole presets (their transforms; the runner normalises)
      simclr_fashion_mnist:
        class_path: augmentations.presets.simclr_fashion_mnist

Generators: `singles`, `ordered_pairs`, `compositions`, `from_pipelines` and `strength_sweep` (the
colour-strength rows of the paper's Table 1); `restrict` keeps the strategies made of some blocks only.
Block and strategy names label rows and plot axes and are checked (`simclr.ablation.names`); they never
become paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from simclr.ablation.names import check_names
from simclr.ablation.yaml_files import read_mapping
from simclr.errors import UserError
from simclr.safety.allowed_classes import check_config_file

Blocks = Mapping[str, Sequence[nn.Module]]  # block name -> transforms (float [0, 1] images in and out)


@dataclass
class Strategy:
    """One augmentation strategy of a comparison.

    The runner wraps `transforms` in a ViewPipeline with the base config's mean and std, so only the
    augmentation differs between runs.
    """

    name: str  # row label in tables and plots
    transforms: list[nn.Module]  # applied in order to float (B, C, H, W) images in [0, 1]
    parts: tuple[str, ...] = field(default_factory=tuple)  # block names it composes, in order (heatmap axes)


def singles(blocks: Blocks) -> list[Strategy]:
    """One strategy per block, in the blocks' order (the diagonal of the paper's Figure 5)."""
    return [Strategy(name, list(mods), (name,)) for name, mods in blocks.items()]


def ordered_pairs(blocks: Blocks) -> list[Strategy]:
    """Every ordered pair (first, second) of two different blocks, first applied first: n (n - 1)
    strategies named "first+second", row-major over the blocks' order (the off-diagonal of Figure 5)."""
    return [Strategy(f"{a}+{b}", [*blocks[a], *blocks[b]], (a, b)) for a in blocks for b in blocks if a != b]


def compositions(blocks: Blocks, recipes: Mapping[str, Sequence[str]]) -> list[Strategy]:
    """Named strategies, each the listed blocks in order; unknown block names raise a UserError."""
    out = []
    for name, parts in recipes.items():
        missing = [p for p in parts if p not in blocks]
        if missing:
            raise UserError(
                f"strategy {name!r} names unknown block(s) {missing}; define them under `blocks:` (have {list(blocks)})"
            )
        out.append(Strategy(name, [m for p in parts for m in blocks[p]], tuple(parts)))
    return out


def from_pipelines(pipelines: Mapping[str, nn.Module]) -> list[Strategy]:
    """Whole view pipelines (e.g. `augmentations.presets.simclr_fashion_mnist(28)`) as strategies; their
    transforms are kept and their normalisation dropped (the runner applies the base config's)."""
    out = []
    for name, pipeline in pipelines.items():
        if not hasattr(pipeline, "transforms"):
            raise UserError(
                f"pipeline {name!r} is a {type(pipeline).__name__} without `transforms`; give an augmentations.ViewPipeline (e.g. a preset)"
            )
        out.append(Strategy(name, list(pipeline.transforms), (name,)))
    return out


def strength_sweep(
    make: Callable[[float], Sequence[nn.Module]],
    strengths: Sequence[float],
    before: Sequence[nn.Module] = (),
    prefix: str = "color",
) -> list[Strategy]:
    """One strategy per strength s: `before` then `make(s)` (Table 1 of the paper: crop + colour
    distortion at strengths 1/8 ... 1), named f"{prefix} {s:g}".

    Example: `strength_sweep(presets.color, [0.25, 0.5, 1.0], before=presets.crop(28))`.
    """
    return [Strategy(f"{prefix} {s:g}", [*before, *make(s)], (f"{prefix} {s:g}",)) for s in strengths]


def restrict(strategies: Sequence[Strategy], blocks: Sequence[str]) -> list[Strategy]:
    """The strategies made only of the named blocks (e.g. a 4 x 4 corner of the 7 x 7 pair grid), in order."""
    keep = set(blocks)
    return [s for s in strategies if s.parts and set(s.parts) <= keep]


class StrategySpec:
    """The schema of a strategies YAML (see the module docstring); jsonargparse instantiates the transforms.

    Args:
        blocks: block name -> transforms (class_path/init_args), applied in order.
        singles: add one strategy per block.
        pairs: add every ordered pair of two different blocks.
        compositions: strategy name -> block names, applied in order.
        pipelines: strategy name -> a view pipeline (class_path of a preset or augmentations.ViewPipeline).
    """

    def __init__(
        self,
        blocks: dict[str, list[nn.Module]] | None = None,
        singles: bool = False,
        pairs: bool = False,
        compositions: dict[str, list[str]] | None = None,
        pipelines: dict[str, nn.Module] | None = None,
    ):
        self.blocks = blocks or {}
        self.singles, self.pairs = singles, pairs
        self.compositions = compositions or {}
        self.pipelines = pipelines or {}

    def strategies(self) -> list[Strategy]:
        """Singles, then pairs, then compositions, then pipelines; names must be unique."""
        out = (singles(self.blocks) if self.singles else []) + (ordered_pairs(self.blocks) if self.pairs else [])
        out += compositions(self.blocks, self.compositions) + from_pipelines(self.pipelines)
        names = [s.name for s in out]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise UserError(
                f"strategy names must be unique, {duplicated} appear twice; rename the composition or pipeline"
            )
        if not out:
            raise UserError(
                "the strategies file defines no strategy; set `singles: true`, `pairs: true`, `compositions:` or `pipelines:`"
            )
        return out


def strategy_parser():
    """A jsonargparse parser for one StrategySpec under the key `spec` (`--spec file.yaml`)."""
    import jsonargparse

    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(StrategySpec, "spec")
    return parser


SPEC_KEYS = ("blocks", "singles", "pairs", "compositions", "pipelines")
WHAT = "a strategies file (`blocks:` and `singles:`, `pairs:`, `compositions:` or `pipelines:`)"


def load_strategies(path: str | Path, trusted: bool = False) -> list[Strategy]:
    """The strategies a YAML file defines (schema: `StrategySpec`), transforms instantiated, names checked
    (`simclr.ablation.names`); unless `trusted`, the file may name only classes on the list of
    `simclr.safety.allowed_classes`. A one-line UserError for a file that is not such a mapping, repeats
    a key, names a block it lacks or defines no strategy."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"strategies file {path} does not exist; see configs/strategies/ for examples")
    data = read_mapping(path, WHAT, "simclr compare-augs --strategies", "configs/strategies/pairs_fashion_mnist.yaml")
    unknown = sorted(set(data) - set(SPEC_KEYS), key=str)
    if unknown:
        raise UserError(f"{path} has unknown key {unknown[0]!r}; a strategies file has {', '.join(SPEC_KEYS)}")
    if not trusted:
        check_config_file(path, data)
    parser = strategy_parser()
    spec = parser.instantiate(parser.parse_object({"spec": data})).spec
    check_names(spec.blocks, "block", str(path))
    try:
        strategies = spec.strategies()
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    check_names([s.name for s in strategies], "strategy", str(path))
    return strategies
