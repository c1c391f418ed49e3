"""A short `simclr finetune` run of a tiny pretraining checkpoint, for the fine-tuning and distillation tests, and
runs that a signal stops."""

import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers.killer import KillAfterStep

from simclr.cli import main as cli_main


def finetune_args(ckpt: Path, out: Path, *extra: str) -> list[str]:
    """`finetune` arguments: half the labels of the 64 fake images (30), 2 steps of 8 images, on the CPU, without
    the scratch run of --compare (unless `extra` passes --compare true)."""
    return ["--ckpt", str(ckpt), "--out_dir", str(out), "--label_fraction", "0.5", "--max_steps", "2",
            "--batch_size", "8", "--device", "cpu", "--compare", "false", *extra]  # fmt: skip


def finetune_tiny(ckpt: Path, out: Path, *extra: str) -> Path:
    """The checkpoint of a 2-step fine-tuning run of `ckpt` written into `out`."""
    return cli_main.run_command(["finetune", *finetune_args(ckpt, out, *extra)])


def stop_at_step(monkeypatch, command: ModuleType, step: int, signal_name: str, callbacks: list | None = None) -> None:
    """Makes the trainer of `command` (simclr.finetuning.finetune or simclr.finetuning.distill) send `signal_name` to this
    process after training step `step`; `callbacks` run before that signal in every step."""
    make_trainer = command.make_trainer

    def with_signal(*args, **kwargs):
        trainer = make_trainer(*args, **kwargs)
        trainer.callbacks[:0] = [*(callbacks or []), KillAfterStep(step, signal_name)]
        return trainer

    monkeypatch.setattr(command, "make_trainer", with_signal)


def stopped(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Runs the `simclr` entry point with `args`, which a signal stops; returns its exit status and last stderr line."""
    monkeypatch.setattr(sys, "argv", ["simclr", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main()
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()[-1]
