"""The package's layers, read from its import graph: no module imports from a higher layer, no command imports
another command, and nothing outside `simclr/cli/` (the library, benchmarks, notebooks, examples) imports
from it."""

import ast
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "simclr"

# Lowest first. A module belongs to the layer of the longest prefix of its name; it may import its own layer
# and the layers below.
LAYERS: list[tuple[str, ...]] = [
    ("simclr.errors", "simclr.devices", "simclr.warning_filters", "simclr.shipped_configs"),
    ("simclr.models", "simclr.losses", "simclr.data", "simclr.captions"),
    ("simclr.safety",),
    ("simclr.training",),
    ("simclr.methods", "simclr.finetuning.finetuner", "simclr.finetuning.distiller", "simclr.finetuning.distill_loss"),
    ("simclr.finetuning.__init__",),  # exports the two LightningModules above
    ("simclr.loading",),
    ("simclr.eval",),
    ("simclr.pretraining",),
    (
        "simclr.finetuning",
        "simclr.ablation",
        "simclr.loading.export",
        "simclr.eval.probe_checkpoint",
        "simclr.eval.zeroshot_checkpoint",
    ),
    ("simclr.embedding",),
    ("simclr.cli",),
    ("simclr.__init__",),
]
# The library function behind each `simclr` command (simclr.cli.main.COMMANDS); none imports another.
COMMANDS = (
    "simclr.eval.probe_checkpoint",
    "simclr.loading.export",
    "simclr.finetuning.finetune",
    "simclr.finetuning.distill",
    "simclr.ablation.compare",
    "simclr.ablation.compare_augs",
    "simclr.embedding.embed",
    "simclr.embedding.neighbours",
    "simclr.captions.make_captions",
    "simclr.captions.make_tokenizer",
    "simclr.eval.zeroshot_checkpoint",
)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def imported(source: str) -> set[str]:
    """Every `simclr...` module named by an import in `source` (at any depth, including inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n == "simclr" or n.startswith("simclr.")}


def layer_of(name: str) -> int:
    """Index in LAYERS of the module `name`, by its longest matching prefix (a package stands for its __init__)."""
    candidates = [name, f"{name}.__init__"]
    found = [
        (len(p), i)
        for i, prefixes in enumerate(LAYERS)
        for p in prefixes
        if any(c == p or c.startswith(p + ".") for c in candidates)
    ]
    return max(found)[1] if found else -1


def graph() -> dict[str, set[str]]:
    return {module_name(f): imported(f.read_text()) for f in sorted(PACKAGE.rglob("*.py"))}


def existing(name: str, modules: set[str]) -> str | None:
    """The module of `name` (a module, a package, or a name imported from a module), else None."""
    while name and name not in modules and f"{name}.__init__" not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_every_module_has_a_layer():
    assert [m for m in graph() if layer_of(m) < 0] == []


def test_no_module_imports_from_a_higher_layer():
    edges = graph()
    modules = set(edges)
    upward = []
    for module, names in edges.items():
        for name in names:
            target = existing(name, modules)
            if target and layer_of(target) > layer_of(module):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_command_imports_another_command():
    edges = graph()
    modules = set(edges)
    crossing = [
        f"{command} -> {existing(name, modules)}"
        for command in COMMANDS
        for name in edges[command]
        if existing(name, modules) in COMMANDS and existing(name, modules) != command
    ]
    assert crossing == []


def test_the_commands_are_the_ones_main_runs():
    from simclr.cli.main import COMMANDS as MAIN_COMMANDS

    assert sorted(function.__module__ for function, _ in MAIN_COMMANDS.values()) == sorted(COMMANDS)


def outside_sources() -> list[tuple[Path, str]]:
    """(path, Python source) of the library outside simclr/cli, the benchmarks, the examples and the notebooks."""
    files = [f for f in PACKAGE.rglob("*.py") if "cli" not in f.relative_to(PACKAGE).parts[:1]]
    files += [*(REPO / "benchmarks").rglob("*.py"), *(REPO / "examples").rglob("*.py")]
    sources = [(f, f.read_text()) for f in files]
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        sources.append(
            (notebook, "\n".join(line for line in "\n".join(code).splitlines() if not line.startswith(("%", "!"))))
        )
    return sources


@pytest.mark.parametrize(
    "path, source", outside_sources(), ids=lambda x: str(x.relative_to(REPO)) if isinstance(x, Path) else ""
)
def test_nothing_outside_the_cli_imports_it(path, source):
    assert [n for n in imported(source) if n == "simclr.cli" or n.startswith("simclr.cli.")] == []
