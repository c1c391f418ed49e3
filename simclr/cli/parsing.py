"""One parser for every command but `fit` (LightningCLI): jsonargparse reads the options, their types and
their help from the library function's signature and docstring.

Shared spellings: `--config FILE` reads the command's options from a YAML file (in `compare` and
`compare-augs` it is the `simclr fit` config; `--experiment` is their options file); the budget of a
comparison is the flat option set of `simclr.ablation.budget.Budget` (`--epochs`, `--max_steps`, ...);
a list option takes its values as separate words (`--seeds 0 1 2`) or in YAML (`--seeds [0,1,2]`); an object
option takes a YAML file (`--data labelled.yaml`: class_path / init_args, or a fit config's `data:` section);
`from_layer` is spelled `--from`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docstring_parser
import jsonargparse
import yaml

from simclr.ablation.budget import Budget
from simclr.errors import UserError

FIT_ARGS = "fit_args"  # a comparison's `simclr fit` arguments, split off before parsing


class HelpFormatter(argparse.RawDescriptionHelpFormatter, jsonargparse.DefaultHelpFormatter):
    """Keeps the line breaks of the description (the usage examples)."""


def description(function: Callable, module_doc: str | None) -> str:
    """The command's help text: its module's usage examples, else the function docstring before `Args:`."""
    return module_doc or (inspect.getdoc(function) or "").split("Args:")[0].strip()


def command_parser(function: Callable, prog: str, module_doc: str | None = None) -> jsonargparse.ArgumentParser:
    """The options of `function`: one per parameter (the budget as its flat fields, `from_layer` as --from)."""
    p = jsonargparse.ArgumentParser(
        prog=prog, description=description(function, module_doc), formatter_class=HelpFormatter, exit_on_error=False
    )
    params = inspect.signature(function).parameters
    if FIT_ARGS not in params:  # a comparison's --config is the fit config, split off before parsing
        p.add_argument("--config", action=jsonargparse.ActionConfigFile, help="a YAML file of these options")
    p.add_function_arguments(function, as_positional=False, skip={FIT_ARGS, "budget", "from_layer"} & set(params))
    if "from_layer" in params:
        p.add_argument(
            "--from", dest="from_layer", default="h", help="h, head_1, ..., z: the layer the classifier reads."
        )
    if "budget" in params:
        helps = {a.arg_name: a.description for a in docstring_parser.parse(Budget.__doc__ or "").params}
        hints = typing.get_type_hints(Budget)
        for field in dataclasses.fields(Budget):
            p.add_argument(
                f"--{field.name}", type=hints[field.name], default=field.default, help=helps.get(field.name, "")
            )
    return p


def list_options(function: Callable) -> set[str]:
    """The options of `function` that take a list."""
    hints = typing.get_type_hints(function)
    found = set()
    for name, hint in hints.items():
        kinds = (
            typing.get_args(hint)
            if typing.get_origin(hint) in (typing.Union, __import__("types").UnionType)
            else (hint,)
        )
        if any(typing.get_origin(k) is list for k in kinds):
            found.add(f"--{name}")
    return found


def lists_as_yaml(args: list[str], options: set[str]) -> list[str]:
    """`--seeds 0 1 2` as `--seeds [0, 1, 2]` for the list `options` (a value in YAML is kept as given)."""
    out, i = [], 0
    while i < len(args):
        out.append(args[i])
        i += 1
        if out[-1] in options:
            words = []
            while i < len(args) and not args[i].startswith("--"):
                words.append(args[i])
                i += 1
            if len(words) == 1 and words[0].lstrip().startswith("["):
                out.append(words[0])
            elif words:
                out.append("[" + ", ".join(words) + "]")
    return out


def class_options(function: Callable) -> set[str]:
    """The options of `function` that take an object given by class_path / init_args (e.g. probe's --data)."""
    found = set()
    for name, hint in typing.get_type_hints(function).items():
        kinds = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        if any(isinstance(k, type) and k.__module__.startswith("simclr.") for k in kinds):
            found.add(f"--{name}")
    return found


def files_as_values(args: list[str], options: set[str]) -> list[str]:
    """`--data F.yaml` for a class option: the file's class_path / init_args (or the `data:` section of a
    `simclr fit` config, e.g. --data configs/fashion_mnist.yaml) given inline, as JSON."""
    out = list(args)
    for i, arg in enumerate(args[:-1]):
        value = Path(args[i + 1])
        if arg in options and value.suffix in (".yaml", ".yml", ".json") and value.is_file():
            config = yaml.safe_load(value.read_text())
            key = arg.removeprefix("--")
            if isinstance(config, dict) and "class_path" not in config and isinstance(config.get(key), dict):
                config = config[key]
            out[i + 1] = json.dumps(config)
    return out


def parse_command(function: Callable, prog: str, args: list[str], module_doc: str | None = None) -> dict[str, Any]:
    """The keyword arguments of `function` from the command line `args` (--help prints the options and exits)."""
    parser = command_parser(function, prog, module_doc)
    args = files_as_values(lists_as_yaml(args, list_options(function)), class_options(function))
    parsed = parser.instantiate_classes(parser.parse_args(args))
    kwargs = {key: value.as_dict() if isinstance(value, jsonargparse.Namespace) else value
              for key, value in vars(parsed).items()}  # fmt: skip
    kwargs.pop("config", None)
    kwargs.pop("__path__", None)
    if "budget" in inspect.signature(function).parameters:
        values = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(Budget)}
        words = {arg.split("=", 1)[0] for arg in args}
        given = {name: value for name, value in values.items() if f"--{name}" in words}  # None may mean "all"
        try:
            kwargs["budget"] = Budget(**given) if given else None
        except UserError as e:
            raise UserError(f"--{e}") from None
    return kwargs
