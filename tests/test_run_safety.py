"""Every run's files are its own: a smoke run writes nothing, a resume runs what it says, SIGTERM leaves a
resumable checkpoint and a failing exit status, two fits never share a folder, outputs are checked first."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.cli import run_args, user_error

from simclr.pretraining import run_fit
from simclr.safety.run_folder import lock_path
from simclr.safety.sigterm import SIGTERM_EXIT_STATUS

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SIMCLR = Path(sys.executable).parent / "simclr"


def test_a_fast_dev_run_writes_no_checkpoint_anywhere(monkeypatch, tiny, trained, tmp_path):
    monkeypatch.chdir(tmp_path)  # the default root, runs/, would be here
    ckpt = tmp_path / "real" / "ckpt"
    ckpt.mkdir(parents=True)
    (ckpt / "last.ckpt").write_bytes(trained.read_bytes())  # a real run's progress
    run_fit(["fit", "--config", str(tiny), "--checkpoint.dirpath", str(ckpt), "--trainer.fast_dev_run", "2"])
    assert sorted(p.name for p in ckpt.iterdir()) == ["last.ckpt"]
    assert (ckpt / "last.ckpt").read_bytes() == trained.read_bytes()
    run_fit(["fit", "--config", str(tiny), "--trainer.fast_dev_run", "1"])
    assert not (tmp_path / "runs").exists() and not (tmp_path / "checkpoints").exists()


def test_ckpt_path_last_that_finds_nothing_is_an_error(monkeypatch, capsys, tiny, tmp_path):
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "typo", "--ckpt_path", "last"))
    assert f"--ckpt_path last found no last.ckpt in {tmp_path / 'typo' / 'ckpt'}" in line
    assert not (tmp_path / "typo" / "ckpt").exists() or not any((tmp_path / "typo" / "ckpt").glob("*.ckpt"))


def test_a_resume_with_changed_model_options_is_refused_naming_them(monkeypatch, capsys, tiny, trained, tmp_path):
    args = run_args(tiny, tmp_path, "--ckpt_path", str(trained), "--model.optimizer.init_args.lr", "0.01")
    line = user_error(monkeypatch, capsys, *args)
    assert (
        f"--ckpt_path {trained} was trained with model.optimizer.init_args.lr=0.1, but this command sets 0.01" in line
    )
    assert "drop --ckpt_path to start a new run" in line
    resumed = run_fit(run_args(tiny, tmp_path / "same", "--ckpt_path", str(trained), "--trainer.max_steps", "3"))
    assert resumed.trainer.global_step == 3  # the same options resume


def test_sigterm_saves_a_resumable_checkpoint_and_fails(tiny, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    term = ["--trainer.callbacks+=helpers.killer.KillAfterStep", "--trainer.callbacks.step", "5",
            "--trainer.callbacks.signal_name", "SIGTERM"]  # fmt: skip
    run = tmp_path / "stopped"
    out = subprocess.run([str(SIMCLR), *run_args(tiny, run, "--trainer.max_steps", "12", *term)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == SIGTERM_EXIT_STATUS, out.stderr[-2000:]
    last = run / "ckpt" / "last.ckpt"
    assert out.stderr.strip().splitlines()[-1] == (
        f"simclr: error: stopped by SIGTERM before training finished; resume with --ckpt_path {last}"
    )
    assert torch.load(last, weights_only=True)["global_step"] == 5
    resumed = run_fit(run_args(tiny, run, "--trainer.max_steps", "12", "--ckpt_path", "last"))
    straight = run_fit(run_args(tiny, tmp_path / "straight", "--trainer.max_steps", "12"))
    assert resumed.trainer.global_step == straight.trainer.global_step == 12
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_folder_held_by_a_live_run_is_refused_and_a_stale_lock_is_taken_over(monkeypatch, capsys, tiny, tmp_path):
    run = tmp_path / "shared"
    (run / "ckpt").mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_path(run / "ckpt").write_text(str(other.pid))
        line = user_error(monkeypatch, capsys, *run_args(tiny, run, "--trainer.max_steps", "1"))
        assert f"another simclr fit (pid {other.pid}) is writing to {run / 'ckpt'}" in line
        assert not (run / "ckpt" / "last.ckpt").exists()
    finally:
        other.kill()
        other.wait()
    fit = run_fit(run_args(tiny, run, "--trainer.max_steps", "1"))  # the lock's process is gone: taken over
    assert fit.trainer.global_step == 1 and (run / "ckpt" / "last.ckpt").is_file()
    assert not lock_path(run / "ckpt").exists()  # released when the fit ended
    assert sorted(p.name for p in (run / "ckpt").iterdir()) == ["last.ckpt"]  # only the run's own files


def test_output_folders_under_a_regular_file_fail_before_any_work(monkeypatch, capsys, tiny, trained, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(trained), "--out_dir", str(blocker / "probe"))
    assert f"--out_dir {blocker / 'probe'} is not a writable folder" in line
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained), "--out", str(blocker / "b.pt"))
    assert f"the folder of --out {blocker} is not a writable folder" in line
    line = user_error(monkeypatch, capsys, *run_args(tiny, blocker / "run", "--trainer.max_steps", "1"))
    assert "cannot create the run folder" in line or "is not a writable folder" in line, line


def test_a_two_process_ddp_fit_holds_one_lock_and_leaves_only_its_files(tiny, tmp_path):
    run = tmp_path / "ddp"
    args = run_args(tiny, run, "--trainer.devices", "2", "--trainer.strategy", "ddp", "--trainer.max_steps", "3")
    out = subprocess.run([str(SIMCLR), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert torch.load(run / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == 3
    assert sorted(p.name for p in (run / "ckpt").iterdir()) == ["last.ckpt"]
    assert not list(run.rglob("*.simclr-fit.lock"))  # released by the one process that took it
