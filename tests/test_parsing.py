"""Every command but `fit` is parsed one way (simclr.cli.parsing): options, types and help from the library
function's signature and docstring, `--config FILE`, list options as words, the flat budget options, `--from`."""

import inspect

import pytest

from simclr.ablation.budget import Budget
from simclr.cli.main import COMMANDS
from simclr.cli.parsing import FIT_ARGS, command_parser, lists_as_yaml, parse_command
from simclr.errors import UserError
from simclr.finetuning.finetune import finetune


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_comes_from_the_docstring(name, capsys):
    function, module_doc = COMMANDS[name]
    with pytest.raises(SystemExit):
        command_parser(function, f"simclr {name}", module_doc).parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    params = [p for p in inspect.signature(function).parameters if p not in (FIT_ARGS, "budget")]
    for param in params:
        assert f"--{'from' if param == 'from_layer' else param}" in shown
    assert ("[--config CONFIG]" in shown) == (FIT_ARGS not in inspect.signature(function).parameters)
    if "budget" in inspect.signature(function).parameters:
        assert "--max_steps" in shown and "--probe_images" in shown and "--budget" not in shown


def test_options_from_a_config_file_and_the_command_line(tmp_path):
    options = tmp_path / "ft.yaml"
    options.write_text("ckpt: a.ckpt\nlabel_fraction: 0.1\nlr: 0.01\ncrop_scale: [0.5, 1.0]\n")
    kwargs = parse_command(finetune, "simclr finetune", ["--config", str(options), "--lr", "0.2", "--from", "z"])
    assert kwargs["ckpt"] == "a.ckpt" and kwargs["label_fraction"] == 0.1
    assert kwargs["lr"] == 0.2 and kwargs["from_layer"] == "z" and tuple(kwargs["crop_scale"]) == (0.5, 1.0)
    assert set(kwargs) == set(inspect.signature(finetune).parameters)


def test_list_options_take_words_or_yaml():
    options = {"--seeds", "--methods"}
    assert lists_as_yaml(["--seeds", "0", "1", "--out_dir", "x"], options) == ["--seeds", "[0, 1]", "--out_dir", "x"]
    assert lists_as_yaml(["--seeds", "[0,1]"], options) == ["--seeds", "[0,1]"]
    assert lists_as_yaml(["--methods", "a.yaml"], options) == ["--methods", "[a.yaml]"]
    compare, _ = COMMANDS["compare"]
    assert parse_command(compare, "simclr compare", ["--seeds", "3", "4"])["seeds"] == [3, 4]


def test_the_budget_is_built_from_the_options_given():
    compare_augs, _ = COMMANDS["compare-augs"]
    assert parse_command(compare_augs, "simclr compare-augs", [])["budget"] is None  # not given: the default
    given = parse_command(compare_augs, "simclr compare-augs", ["--max_steps", "5", "--probe_images", "null"])
    assert given["budget"] == Budget(max_steps=5, probe_images=None)  # null is "all", not "not given"
    with pytest.raises(UserError, match="^--train_images 0 is not a count of 1 or more"):
        parse_command(compare_augs, "simclr compare-augs", ["--train_images", "0"])
