"""The configs shipped with the toolkit, by name: `simclr fit --config fashion_mnist`, `simclr configs`.

In a checkout they are the YAML files under `configs/`; an installed wheel carries the same files inside
the package (`simclr/configs/`, see pyproject's package-dir), so a name works from any folder. A name is
the file's path below that folder without `.yaml`: `fashion_mnist`, `trainer/cpu_demo`, `methods/byol`,
`experiments/temperature`. A path to an existing file always wins over a name.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NAMED_OPTIONS = ("--config", "--experiment", "--strategies", "--student_config")  # options that take one file
NAMED_LIST_OPTIONS = ("--methods",)  # options that take several files


def configs_dir() -> Path:
    """The folder of the shipped configs: inside the installed package, else the checkout's `configs/`."""
    installed = PACKAGE / "configs"
    return installed if installed.is_dir() else PACKAGE.parent / "configs"


def shipped_configs() -> dict[str, Path]:
    """Every shipped config: name (path below `configs_dir()` without `.yaml`) -> file, sorted by name."""
    root = configs_dir()
    return {str(p.relative_to(root).with_suffix("")): p for p in sorted(root.rglob("*.yaml"))}


def resolve_config(value: str) -> str:
    """`value` itself when it is an existing file (or not a config name), else the shipped config it names
    (`fashion_mnist`, `configs/fashion_mnist.yaml` from another folder, `trainer/cpu_demo.yaml`)."""
    if Path(value).exists():
        return value
    name = value.removesuffix(".yaml").removeprefix("configs/")
    found = shipped_configs().get(name)
    return str(found) if found is not None else value


def resolve_config_args(args: list[str]) -> list[str]:
    """Command-line arguments with every config file option's value resolved by `resolve_config`."""
    out: list[str] = []
    taking = 0  # how many following values are config names: 1 after --config, any after --methods
    for arg in args:
        option, eq, value = arg.partition("=")
        if arg.startswith("-"):
            taking = 1 if arg in NAMED_OPTIONS else -1 if arg in NAMED_LIST_OPTIONS else 0
            if eq and option in NAMED_OPTIONS + NAMED_LIST_OPTIONS:
                arg, taking = f"{option}={resolve_config(value)}", 0
            out.append(arg)
        elif taking:
            out.append(resolve_config(arg))
            taking -= 1 if taking > 0 else 0
        else:
            out.append(arg)
    return out


def configs_table() -> str:
    """The `simclr configs` listing: each name and the first comment line of its file."""
    rows = []
    for name, path in shipped_configs().items():
        comment = next(
            (line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#")), ""
        )
        rows.append(f"{name:<46} {comment[:100]}")
    return "\n".join([f"Shipped configs ({configs_dir()}); pass one by name, e.g. --config fashion_mnist", *rows])
