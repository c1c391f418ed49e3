"""Installed, not cloned: a wheel built from pyproject, installed into a fresh virtual environment (reusing
this environment's torch and other dependencies), runs `simclr configs`, a tiny fit of a config named by
name, and a probe, from a folder outside the checkout."""

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import fakedata

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a fresh venv holding only the wheel; dependencies come from this environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        str(REPO),
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        "dist",
        cwd=tmp,
    )
    (wheel,) = (tmp / "dist").glob("*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", "venv", cwd=tmp)
    python = tmp / "venv" / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        str(wheel),
        cwd=tmp,
    )
    target = Path(run(str(python), "-c", "import site; print(site.getsitepackages()[0])", cwd=tmp).strip())
    (target / "reuse_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return tmp / "venv" / "bin"


def test_the_wheel_runs_outside_the_checkout(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    listing = run(str(installed / "simclr"), "configs", cwd=tmp_path, env=env)
    package = run(str(installed / "python"), "-c", "import simclr; print(simclr.__file__)", cwd=tmp_path, env=env)
    assert str(REPO) not in package and str(installed.parent) in package  # the installed copy, not the checkout
    assert "fashion_mnist " in listing and "trainer/cpu_demo" in listing and str(installed.parent) in listing
    root = fakedata.write_fashion_mnist(tmp_path / "fm")
    run(
        str(installed / "simclr"), "fit", "--config", "fashion_mnist", "--config", "trainer/cpu_demo",
        "--data.init_args.root", str(root), "--data.init_args.batch_size", "8",
        "--model.encoder.init_args.stage_widths", "[4, 8, 8, 16]", "--model.head.init_args.hidden_dim", "16",
        "--trainer.max_steps", "2", "--trainer.max_epochs", "-1", "--trainer.limit_val_batches", "1",
        "--trainer.logger.init_args.save_dir", "run", "--checkpoint.dirpath", "run/ckpt",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    ckpt = tmp_path / "run" / "ckpt" / "last.ckpt"
    assert ckpt.is_file()
    run(str(installed / "simclr"), "probe", "--ckpt", str(ckpt), "--out_dir", "probe", "--max_iter", "2",
        "--knn_k", "3", "--device", "cpu", cwd=tmp_path, env=env)  # fmt: skip
    rows = {row["representation"]: row for row in json.loads((tmp_path / "probe" / "probe.json").read_text())}
    assert set(rows) >= {"h", "z", "random_h", "pixels"} and 0.0 <= rows["h"]["linear_top1"] <= 1.0


def test_every_package_is_in_the_wheel():
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("simclr", "augmentations")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert sorted(found - listed) == []
