"""The exact class list for configs read from files: every class the shipped configs, notebooks and tests
build is on it; functions, other classes, attribute chains and nested class paths are refused, and a
checkpoint naming one runs no code in probe, export, finetune or distill."""

import re
from pathlib import Path

import pytest
import torch
import yaml
from helpers.cli import user_error
from helpers.finetune import finetune_tiny

from simclr.safety.allowed_classes import allowed_paths, named_paths, refused_path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"simclr", "augmentations", "torch", "torchvision", "kornia", "lightning"}
# name classes off the list on purpose: hostile payloads, a student encoder that is not one
HOSTILE_TESTS = {"test_allowed_classes.py", "test_untrusted_checkpoints.py", "test_finetune_errors.py"}
CLASS_PATH_LITERAL = re.compile(r"""class_path["']?\s*[:=,]\s*["']?([A-Za-z_][\w.]+)""")
OPTION_VALUE = re.compile(r"""["']--[\w.]+["'],\s*["']((?:simclr|augmentations|torch|kornia|lightning)\.[\w.]+)["']""")


def shipped_config_paths() -> set[str]:
    """Every import path named in a YAML under configs/."""
    found: set[str] = set()
    for path in (REPO / "configs").rglob("*.yaml"):
        found |= set(named_paths(yaml.safe_load(path.read_text())))
    return found


def source_class_paths() -> set[str]:
    """Every class path written in the tests, notebooks and benchmarks (as `class_path` or an option value)."""
    files = [
        *(REPO / "tests").rglob("*.py"),
        *(REPO / "notebooks").glob("*.ipynb"),
        *(REPO / "benchmarks").glob("*.py"),
    ]
    found: set[str] = set()
    for path in files:
        if path.name not in HOSTILE_TESTS:
            text = path.read_text()
            found |= set(CLASS_PATH_LITERAL.findall(text)) | set(OPTION_VALUE.findall(text))
    return {p for p in found if p.split(".")[0] in PACKAGES and "." in p}


def test_every_class_the_configs_and_tests_build_is_on_the_list():
    named = shipped_config_paths()
    assert {"simclr.models.ResNetEncoder", "kornia.augmentation.RandomSolarize", "torch.optim.AdamW"} <= named
    assert sorted(named - allowed_paths()) == []
    in_sources = source_class_paths()
    assert {"augmentations.RandomRot90", "simclr.data.datamodules.ImageFolder"} <= in_sources
    assert sorted(in_sources - allowed_paths()) == []


@pytest.mark.slow
def test_every_class_saved_in_a_checkpoint_is_on_the_list(trained, tmp_path):
    finetuned = finetune_tiny(trained, tmp_path / "ft")
    for ckpt in (trained, finetuned):
        checkpoint = torch.load(ckpt, weights_only=True)
        assert refused_path(checkpoint["hyper_parameters"]) is None
        assert refused_path(checkpoint["datamodule_hyper_parameters"], False) is None


@pytest.mark.parametrize(
    "config",
    [
        {"encoder": {"class_path": "torch.utils.cpp_extension.load_inline", "init_args": {"name": "x"}}},  # a function
        {"encoder": {"class_path": "torch.hub.load"}},
        {"encoder": {"class_path": "torch.nn.Conv2d"}},  # a class, but not one on the list
        {"head": "simclr.safety.run_folder.os.system"},  # an attribute chain through a module of ours
        {"head": "augmentations.presets.torch.hub.load"},
        {"augment": {"class_path": "kornia.augmentation.torch.load"}},  # a chain through kornia.augmentation
        {"augment": {"class_path": "kornia.augmentation.AugmentationSequential"}},  # not a transform
        {"optimizer": "lightning.pytorch.cli.instantiate_module"},  # a function given by name
        {"loss": {"class_path": "simclr.losses.NTXentLoss", "init_args": {"pruning": {"class_path": "os.system"}}}},
        {"_instantiator": "os.system"},  # Lightning would call it to rebuild the module
        {"_class_path": "subprocess.Popen"},
    ],
)
def test_anything_off_the_list_is_refused(config):
    assert refused_path(config) is not None


def test_on_the_list(trained):
    assert (
        refused_path(
            {"_class_path": "simclr.methods.MoCo", "_instantiator": "lightning.pytorch.cli.instantiate_module"}
        )
        is None
    )
    assert refused_path({"augment": {"class_path": "kornia.augmentation.RandomSolarize"}}) is None
    assert refused_path({"encoder": {"init_args": {"weights": "ResNet18_Weights.IMAGENET1K_V1"}}}) is None  # no module
    assert refused_path({"root": "data.v1"}, everywhere=False) is None  # a data root, not code


@pytest.mark.slow
def test_a_checkpoint_naming_a_function_runs_no_code_in_any_command(monkeypatch, capsys, trained, tmp_path):
    marker = tmp_path / "pwned"
    payload = {"class_path": "simclr.safety.run_folder.os.system", "init_args": {"command": f"touch {marker}"}}
    teacher = finetune_tiny(trained, tmp_path / "ft")
    crafted = {}
    for name, source, key in (("pretrained", trained, "encoder"), ("finetuned", teacher, "encoder")):
        checkpoint = torch.load(source, weights_only=True)
        if key in checkpoint["hyper_parameters"]:
            checkpoint["hyper_parameters"][key] = payload
        else:  # a fine-tuned checkpoint nests the encoder under its network config
            checkpoint["hyper_parameters"]["_instantiator"] = "os.system"
        crafted[name] = tmp_path / f"{name}.ckpt"
        torch.save(checkpoint, crafted[name])
    out = tmp_path / "out"
    for args in (
        ["probe", "--ckpt", str(crafted["pretrained"]), "--out_dir", str(out)],
        ["export", "--ckpt", str(crafted["pretrained"]), "--out", str(out / "b.pt")],
        ["finetune", "--ckpt", str(crafted["pretrained"]), "--out_dir", str(out), "--max_steps", "1"],
        ["export", "--ckpt", str(crafted["finetuned"]), "--out", str(out / "f.pt")],
        ["distill", "--ckpt", str(crafted["finetuned"]), "--out_dir", str(out), "--max_steps", "1"],
    ):
        line = user_error(monkeypatch, capsys, *args)
        assert "which is not on the list of classes built from files" in line, args
        assert line.endswith("if you trust the file, pass --weights_only false"), args
        assert not marker.exists(), f"{args[0]} ran the payload"
    assert not out.exists() or not any(out.rglob("*.pt"))


def hostile_experiment(tmp_path: Path, marker: Path) -> Path:
    """An experiment whose variant swaps the encoder for a shell command."""
    payload = {"class_path": "simclr.safety.run_folder.os.system", "init_args": {"command": f"touch {marker}"}}
    path = tmp_path / "experiment.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "configs": [str(REPO / "configs" / "fashion_mnist.yaml")],
                "variants": {"base": {}, "evil": {"model": {"encoder": payload}}},
            }
        )
    )
    return path


def hostile_strategies(tmp_path: Path) -> Path:
    path = tmp_path / "strategies.yaml"
    path.write_text(yaml.safe_dump({"blocks": {"evil": [{"class_path": "torch.hub.load"}]}, "singles": True}))
    return path


def test_experiment_and_strategy_files_naming_code_are_refused(tmp_path):
    from simclr.ablation.experiments import load_experiment
    from simclr.ablation.strategies import load_strategies
    from simclr.errors import UserError

    with pytest.raises(UserError, match=r"names simclr.safety.run_folder.os.system, .*pass --trust_files true$"):
        load_experiment(hostile_experiment(tmp_path, tmp_path / "pwned"))
    with pytest.raises(UserError, match=r"strategies.yaml names torch.hub.load, .*pass --trust_files true$"):
        load_strategies(hostile_strategies(tmp_path))
    config = tmp_path / "fit.yaml"  # a fit config an experiment names is read from a file too
    config.write_text(yaml.safe_dump({"model": {"optimizer": "torch.hub.load"}}))
    experiment = tmp_path / "e.yaml"
    experiment.write_text(yaml.safe_dump({"configs": [str(config)], "variants": {"base": {}}}))
    with pytest.raises(UserError, match=r"fit.yaml names torch.hub.load"):
        load_experiment(experiment)
    assert len(load_strategies(REPO / "configs" / "strategies" / "pairs_fashion_mnist.yaml")) > 0


@pytest.mark.slow
def test_compare_commands_refuse_files_naming_code_unless_trusted(monkeypatch, capsys, tmp_path):
    from simclr.ablation.experiments import load_experiment

    marker = tmp_path / "pwned"
    experiment = hostile_experiment(tmp_path, marker)
    strategies = hostile_strategies(tmp_path)
    fm = str(REPO / "configs" / "fashion_mnist.yaml")
    for args in (
        ["compare", "--experiment", str(experiment), "--out_dir", str(tmp_path / "a")],
        ["compare-augs", "--config", fm, "--strategies", str(strategies), "--out_dir", str(tmp_path / "b")],
    ):
        line = user_error(monkeypatch, capsys, *args)
        assert "which is not on the list of classes built from files" in line and line.endswith("--trust_files true")
    assert not marker.exists() and not (tmp_path / "a" / "variants").exists() and not (tmp_path / "b").exists()
    safe = tmp_path / "safe.yaml"
    safe.write_text(yaml.safe_dump({"configs": [fm], "variants": {"tanh": {"model": {"head": "torch.nn.Tanh"}}}}))
    assert load_experiment(safe, trusted=True).variants[0].config == {"model": {"head": "torch.nn.Tanh"}}
