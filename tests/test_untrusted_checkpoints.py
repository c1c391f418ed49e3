"""Checkpoints are untrusted user files: a crafted one runs no code in probe, export or a fit resume; the
opt-in `--weights_only false` works for a trusted file; diverged or misdirected files are one-line errors."""

import fractions
import os
from pathlib import Path

import pytest
import torch
from helpers.cli import run_args, user_error

from simclr.cli.main import run_command
from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow


class Payload:
    """Unpickling this runs a shell command that creates `marker`: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def commands(tiny: Path, run: Path, ckpt: Path) -> dict[str, list[str]]:
    """Every command that reads a checkpoint, pointed at `ckpt`."""
    return {
        "probe": ["probe", "--ckpt", str(ckpt), "--out_dir", str(run / "probe")],
        "export": ["export", "--ckpt", str(ckpt), "--out", str(run / "backbone.pt")],
        "fit": run_args(tiny, run, "--ckpt_path", str(ckpt), "--trainer.max_steps", "3"),
    }


def test_a_crafted_pickle_runs_no_code(monkeypatch, capsys, tiny, trained, tmp_path):
    marker = tmp_path / "pwned"
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["extra"] = Payload(marker)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    for name, args in commands(tiny, tmp_path / "run", crafted).items():
        line = user_error(monkeypatch, capsys, *args)
        assert "safe loading (torch.load weights_only=True) refuses" in line and "--weights_only false" in line, name
        assert not marker.exists(), f"{name} ran the payload"
    assert not (tmp_path / "run" / "backbone.pt").exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("head", "os.system"),  # a callable given by name, called with the encoder's feature_dim
        ("encoder", {"class_path": "subprocess.Popen", "init_args": {"args": "touch pwned", "shell": True}}),
    ],
)
def test_a_config_naming_code_outside_the_run_packages_is_refused(
    monkeypatch, capsys, tiny, trained, tmp_path, key, value
):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["hyper_parameters"][key] = value
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    monkeypatch.chdir(tmp_path)
    name = value if isinstance(value, str) else value["class_path"]
    for command, args in commands(tiny, tmp_path / "run", crafted).items():
        line = user_error(monkeypatch, capsys, *args)
        assert f"saved config names {name}, which is not on the list" in line, command
        assert line.endswith("if you trust the file, pass --weights_only false"), command
    assert not (tmp_path / "pwned").exists()


def test_weights_only_false_loads_a_trusted_file(monkeypatch, capsys, tiny, trained, tmp_path):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["note"] = fractions.Fraction(1, 3)  # harmless, but not a type safe loading builds
    trusted = tmp_path / "trusted.ckpt"
    torch.save(checkpoint, trusted)
    run = tmp_path / "run"
    for name, args in commands(tiny, run, trusted).items():
        assert "--weights_only false" in user_error(monkeypatch, capsys, *args), name
    run_command([*commands(tiny, run, trusted)["export"], "--weights_only", "false"])
    assert (run / "backbone.pt").is_file()
    run_command([*commands(tiny, run, trusted)["probe"], "--weights_only", "false", "--max_iter", "2", "--knn_k", "3"])
    assert (run / "probe" / "probe.json").is_file()
    resumed = run_fit([*commands(tiny, run, trusted)["fit"], "--weights_only", "false"])
    assert resumed.trainer.global_step == 3  # continued from the checkpoint's step 2


def test_export_refuses_to_overwrite_its_input(monkeypatch, capsys, trained, tmp_path):
    before = trained.read_bytes()
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained), "--out", str(trained))
    assert "is the checkpoint being exported" in line
    assert trained.read_bytes() == before


def test_probe_and_export_refuse_non_finite_weights(monkeypatch, capsys, trained, tmp_path):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["state_dict"]["encoder.net.bn1.running_var"].fill_(float("inf"))
    diverged = tmp_path / "diverged.ckpt"
    torch.save(checkpoint, diverged)
    for args in (
        ["probe", "--ckpt", str(diverged)],
        ["export", "--ckpt", str(diverged), "--out", str(tmp_path / "b.pt")],
    ):
        line = user_error(monkeypatch, capsys, *args)
        assert f"checkpoint {diverged} holds non-finite values in encoder.net.bn1.running_var" in line
    assert not (tmp_path / "b.pt").exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--max_iter", "0", "--max_iter 0 is below 1"),
        ("--knn_k", "0", "--knn_k 0 is below 1"),
        ("--batch_size", "-1", "--batch_size -1 is below 1"),
        ("--device", "cuda", "--device cuda but torch sees no CUDA GPU here"),
        ("--device", "tpu9", "--device tpu9 is not a device torch knows"),
    ],
)
def test_probe_options_out_of_range(monkeypatch, capsys, trained, tmp_path, option, value, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(trained), option, value, "--out_dir", str(tmp_path))
    assert expected in line
    assert not (tmp_path / "probe.json").exists()
