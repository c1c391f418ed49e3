"""`simclr finetune` and `simclr distill` runs: SIGTERM and Ctrl+C leave a resumable last.ckpt and a failing exit
status, `--ckpt_path last` resumes exactly, another run never starts over an unfinished one, and a diverged run
stops with one line and no checkpoint."""

import json
import os
from pathlib import Path

import pytest
import torch
from helpers.cli import user_error
from helpers.finetune import finetune_args, finetune_tiny, stop_at_step, stopped
from helpers.killer import KillAfterStep
from lightning.pytorch import Callback

from simclr.cli.main import run_command
from simclr.finetuning import distill as distill_command
from simclr.finetuning import finetune as finetune_command
from simclr.loading.finetuned import load_finetuned
from simclr.safety.sigint import SIGINT_EXIT_STATUS
from simclr.safety.sigterm import SIGTERM_EXIT_STATUS

pytestmark = pytest.mark.slow
EXIT_STATUS = {"SIGTERM": SIGTERM_EXIT_STATUS, "SIGINT": SIGINT_EXIT_STATUS}
STEPS = ["--max_steps", "6"]  # 30 labelled images in batches of 8: 4 steps an epoch, so the run crosses an epoch


@pytest.fixture(scope="module")
def teacher(trained, tmp_path_factory) -> Path:
    return finetune_tiny(trained, tmp_path_factory.mktemp("teacher"))


def distill_args(teacher: Path, out: Path, *extra: str) -> list[str]:
    return ["--ckpt", str(teacher), "--out_dir", str(out), "--batch_size", "8", "--device", "cpu", "--alpha",
            "0.5", *extra]  # fmt: skip


def last_of(out: Path) -> Path:
    """out/checkpoints/last.ckpt as the run names it (the checkpoint folder is resolved)."""
    return Path(os.path.realpath(out / "checkpoints")) / "last.ckpt"


class PeekAtLast(Callback):
    """A callback that, after step `step`, records the step of the last.ckpt on disk then."""

    def __init__(self, step: int):
        self.step, self.seen = step, None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            last = Path(trainer.checkpoint_callback.dirpath) / "last.ckpt"
            self.seen = torch.load(last, weights_only=True)["global_step"] if last.is_file() else None


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x, y, atol=1e-6), name


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_stopped_finetune_keeps_last_ckpt_and_resumes_exactly(monkeypatch, capsys, trained, tmp_path, signal_name):
    out = tmp_path / "stopped"
    peek = PeekAtLast(3)
    with monkeypatch.context() as patch:
        stop_at_step(patch, finetune_command, 3, signal_name, [peek])
        status, line = stopped(monkeypatch, capsys, "finetune", *finetune_args(trained, out, *STEPS,
                                                                               "--every_n_train_steps", "2"))  # fmt: skip
    assert status == EXIT_STATUS[signal_name]
    last = last_of(out)
    assert line == f"simclr: error: stopped by {signal_name} before training finished; resume with --ckpt_path {last}"
    assert peek.seen == 2  # written every 2 steps, then on the signal
    assert torch.load(last, weights_only=True)["global_step"] == 3
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["last.ckpt"]  # nothing under the final name
    assert not (out / "finetune.json").exists()

    resumed = run_command(["finetune", *finetune_args(trained, out, *STEPS, "--ckpt_path", "last")])
    straight = finetune_tiny(trained, tmp_path / "straight", *STEPS)
    assert resumed.name == straight.name == "simclr-from_h-0.5-seed0.ckpt"
    assert torch.load(resumed, weights_only=True)["global_step"] == 6
    assert_same_weights(load_finetuned(straight), load_finetuned(resumed))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [resumed.name]  # last.ckpt: the run is over
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["recipe"], r["steps"], r["epochs"]) for r in records] == [("probe", 0, 0), ("lp-ft", 6, 1.5)]


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_stopped_distill_keeps_last_ckpt_and_resumes_exactly(monkeypatch, capsys, teacher, tmp_path, signal_name):
    out = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        stop_at_step(patch, distill_command, 2, signal_name)
        status, line = stopped(monkeypatch, capsys, "distill", *distill_args(teacher, out, "--max_steps", "5"))
    assert status == EXIT_STATUS[signal_name]
    last = last_of(out)
    assert line == f"simclr: error: stopped by {signal_name} before training finished; resume with --ckpt_path {last}"
    assert torch.load(last, weights_only=True)["global_step"] == 2
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["last.ckpt"]

    resumed = run_command(["distill", *distill_args(teacher, out, "--max_steps", "5", "--ckpt_path", str(last))])
    straight = run_command(["distill", *distill_args(teacher, tmp_path / "straight", "--max_steps", "5")])
    assert resumed.name == straight.name == "distill-from_h-0.5-seed0.ckpt"
    assert_same_weights(load_finetuned(straight), load_finetuned(resumed))
    assert not last.exists()


def test_resuming_checks_the_run_and_no_run_starts_over_another_unfinished_one(monkeypatch, capsys, trained, tmp_path):
    out = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        stop_at_step(patch, finetune_command, 1, "SIGTERM")
        assert stopped(monkeypatch, capsys, "finetune", *finetune_args(trained, out))[0] == SIGTERM_EXIT_STATUS
    last = last_of(out)
    before = last.read_bytes()
    line = user_error(monkeypatch, capsys, "finetune", *finetune_args(trained, out, "--init", "scratch"))
    assert f"{out / 'checkpoints' / 'last.ckpt'} holds the unfinished run simclr-from_h-0.5-seed0; resume it" in line
    assert "or delete that file (or pass another --out_dir) to start scratch-from_h-0.5-seed0" in line
    line = user_error(
        monkeypatch, capsys, "finetune", *finetune_args(trained, out, "--lr", "0.01", "--ckpt_path", "last")
    )
    assert (
        f"--ckpt_path {out / 'checkpoints' / 'last.ckpt'} is the run with --lr 0.05, but this command passes --lr 0.01"
        in line
    )
    line = user_error(
        monkeypatch, capsys, "finetune", *finetune_args(trained, out, "--seed", "1", "--ckpt_path", "last")
    )
    assert "is the run with --seed 0, but this command passes --seed 1" in line
    assert last.read_bytes() == before  # refused before any work
    line = user_error(monkeypatch, capsys, "finetune", *finetune_args(trained, tmp_path / "new", "--ckpt_path", "last"))
    assert f"--ckpt_path last found no last.ckpt in {tmp_path / 'new' / 'checkpoints'}" in line
    line = user_error(monkeypatch, capsys, "distill", "--ckpt", str(trained), "--ckpt_path", "last",
                      "--out_dir", str(tmp_path / "d"))  # fmt: skip
    assert "is not a fine-tuned model" in line


@pytest.mark.parametrize("command", ["finetune", "distill"])
def test_a_diverging_run_stops_with_one_line_and_writes_no_checkpoint(
    monkeypatch, capsys, trained, teacher, tmp_path, command
):
    out = tmp_path / "diverged"
    args = finetune_args(trained, out) if command == "finetune" else distill_args(teacher, out, "--max_steps", "4")
    line = user_error(monkeypatch, capsys, command, *args, "--max_steps", "4", "--lr", "1e30")
    assert line == (
        "simclr: error: the training loss became nan at step 2; likely cause: the learning rate is too high; pass a "
        "lower one than --lr 1e+30, e.g. --lr 1e+29 (no checkpoint of the diverged weights was written)"
    )
    assert not list(out.rglob("*.ckpt")) and not (out / "finetune.json").exists()


def test_a_comparison_stopped_in_its_scratch_run_resumes_it_and_keeps_the_finished_run(
    monkeypatch, capsys, trained, tmp_path
):
    out = tmp_path / "stopped"
    compare = ["--compare", "true", "--max_steps", "4"]
    make_trainer, made = finetune_command.make_trainer, []

    def scratch_is_stopped(*args, **kwargs):  # the second trainer of the command: the scratch run's
        trainer = make_trainer(*args, **kwargs)
        made.append(trainer)
        if len(made) == 2:
            trainer.callbacks[:0] = [KillAfterStep(2, "SIGTERM")]
        return trainer

    with monkeypatch.context() as patch:
        patch.setattr(finetune_command, "make_trainer", scratch_is_stopped)
        status, _ = stopped(monkeypatch, capsys, "finetune", *finetune_args(trained, out, *compare))
    assert status == SIGTERM_EXIT_STATUS
    assert torch.load(last_of(out), weights_only=True)["run"]["name"] == "scratch-from_h-0.5-seed0"
    tuned = out / "checkpoints" / "simclr-from_h-0.5-seed0.ckpt"
    before = tuned.read_bytes()
    assert not (out / "finetune.json").exists()
    tuned.rename(tmp_path / "away.ckpt")
    line = user_error(monkeypatch, capsys, "finetune", *finetune_args(trained, out, *compare, "--ckpt_path", "last"))
    assert (
        "resumes scratch-from_h-0.5-seed0, but simclr-from_h-0.5-seed0.ckpt, which this command trains before" in line
    )
    (tmp_path / "away.ckpt").rename(tuned)

    run_command(["finetune", *finetune_args(trained, out, *compare, "--ckpt_path", "last")])
    assert tuned.read_bytes() == before  # finished before the stop: scored again, not trained again
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["recipe"], r["steps"]) for r in records] == [("probe", 0), ("lp-ft", 4), ("scratch", 4)]
    straight = finetune_tiny(trained, tmp_path / "straight", "--init", "scratch", "--max_steps", "4")
    assert_same_weights(load_finetuned(straight), load_finetuned(out / "checkpoints" / straight.name))
    assert not last_of(out).exists()
