"""`simclr fit` mistakes that would otherwise run on quietly or end in a traceback: stacked view strategies,
augmentation options of any class out of range, checkpoints `fit` cannot resume, resumes that change the
model or data, and a new run started in an earlier run's folder. Each is one line, before anything is written."""

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from helpers.cli import run_args, user_error
from helpers.finetune import finetune_tiny

from simclr.pretraining import run_fit

pytestmark = pytest.mark.slow
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def written(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_stacking_two_view_strategies_is_refused(monkeypatch, capsys, tiny, tmp_path):
    multicrop, patches = CONFIGS / "methods" / "multicrop.yaml", CONFIGS / "methods" / "patches.yaml"
    args = run_args(tiny, tmp_path / "run", "--config", str(multicrop), "--config", str(patches))
    line = user_error(monkeypatch, capsys, *args)
    assert line == (
        f"simclr: error: {patches} sets model.augment to augmentations.GridPatches, replacing augmentations.MultiCrop "
        f"from {multicrop} and silently dropping its options; a run has one view strategy, so stack only one of the two"
    )
    assert written(tmp_path / "run") == []
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", "--config", str(multicrop),
                                                     "--model.augment", "augmentations.RandomPatches"))  # fmt: skip
    assert (
        "--model.augment sets model.augment to augmentations.RandomPatches, replacing augmentations.MultiCrop" in line
    )


def kornia_pipeline(tmp_path: Path, transform: dict) -> Path:
    """A config stacking a ViewPipeline of our crop and one kornia `transform` onto the tiny model."""
    crop = {"class_path": "augmentations.RandomResizedCrop", "init_args": {"size": 28}}
    pipeline = {"class_path": "augmentations.ViewPipeline",
                "init_args": {"transforms": [crop, transform], "mean": [0.286], "std": [0.353]}}  # fmt: skip
    path = tmp_path / "kornia.yaml"
    path.write_text(yaml.safe_dump({"model": {"augment": {"init_args": {"pipeline": pipeline}}}}))
    return path


TRANSFORMS = "model.augment.init_args.pipeline.init_args.transforms"
KORNIA_CASES = [
    ({"class_path": "kornia.augmentation.RandomSharpness", "init_args": {"sharpness": 0.5, "p": 1.5}},
     f"{TRANSFORMS}[1].init_args.p is 1.5, but a probability must be in [0, 1]; set it from 0 (never) to 1 (always)"),
    ({"class_path": "kornia.augmentation.RandomResizedCrop", "init_args": {"size": [28, 28], "scale": [1.0, 0.2]}},
     f"{TRANSFORMS}[1].init_args.scale is [1, 0.2], but a range must be [low, high] with 0 < low <= high; "
     f"e.g. [0.2, 1]"),
    ({"class_path": "kornia.augmentation.RandomResizedCrop", "init_args": {"size": [28, 28], "ratio": [1.33, 0.75]}},
     f"{TRANSFORMS}[1].init_args.ratio is [1.33, 0.75], but a range must be [low, high] with 0 < low <= high; "
     f"e.g. [0.75, 1.33]"),
    ({"class_path": "kornia.augmentation.Resize", "init_args": {"size": 0}},
     f"{TRANSFORMS}[1].init_args.size is 0, but an output size must be >= 1 pixel; use the encoder's input size "
     f"(e.g. 28)"),
    ({"class_path": "augmentations.RandomResizedCrop", "init_args": {"size": 28, "scale": [0.9, 0.1]}},
     f"{TRANSFORMS}[1].init_args.scale is [0.9, 0.1], but a range must be [low, high] with 0 < low <= high; "
     f"e.g. [0.1, 0.9]"),
    ({"class_path": "augmentations.RandomHorizontalFlip", "init_args": {"p": -0.5}},
     f"{TRANSFORMS}[1].init_args.p is -0.5, but a probability must be in [0, 1]; set it from 0 (never) to 1 "
     f"(always)"),
]  # fmt: skip


@pytest.mark.parametrize(("transform", "expected"), KORNIA_CASES, ids=[c[0]["class_path"] for c in KORNIA_CASES])
def test_augmentation_options_of_kornia_and_our_transforms(monkeypatch, capsys, tiny, tmp_path, transform, expected):
    args = run_args(tiny, tmp_path / "run", "--config", str(kornia_pipeline(tmp_path, transform)))
    assert user_error(monkeypatch, capsys, *args) == f"simclr: error: {expected}"
    assert written(tmp_path / "run") == []


def test_shipped_kornia_pipelines_still_build(tiny, tmp_path):
    config = CONFIGS / "augment" / "kornia_transforms_fashion_mnist.yaml"
    cli = run_fit([*run_args(tiny, tmp_path, "--config", str(config)), "--trainer.fast_dev_run", "1"])
    assert len(cli.model.augment.pipeline.transforms) == 5


def foreign_files(tmp_path: Path, trained: Path) -> dict[str, tuple[Path, str]]:
    """Files a user may pass to `fit --ckpt_path` that no fit can resume, and the error each must give."""
    checkpoint = torch.load(trained, weights_only=False)
    state_dict = tmp_path / "state_dict.pt"
    torch.save({k.removeprefix("encoder."): v for k, v in checkpoint["state_dict"].items()}, state_dict)
    plain = tmp_path / "plain.ckpt"
    torch.save({"model": checkpoint["state_dict"], "step": 2}, plain)
    weights = tmp_path / "weights.ckpt"
    torch.save({k: v for k, v in checkpoint.items() if k not in ("optimizer_states", "loops")}, weights)
    folder = trained.parent
    return {
        "state_dict": (state_dict, f"checkpoint {state_dict} is not a Lightning checkpoint (it has no 'state_dict': "
                                   f"e.g. a plain state_dict saved with torch.save, or a backbone from `simclr export`)"),
        "dict": (plain, f"checkpoint {plain} is not a Lightning checkpoint (it has no 'state_dict'"),
        "weights_only": (weights, f"checkpoint {weights} holds weights only (no 'optimizer_states': saved with "
                                  f"save_weights_only), and a resume needs the optimizer and loop state"),
        "folder": (folder, f"checkpoint {folder} is a folder, not a checkpoint file; pass the .ckpt inside it, "
                           f"e.g. {folder / 'last.ckpt'}"),
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["state_dict", "dict", "weights_only", "folder"])
def test_a_file_fit_cannot_resume_is_refused_before_anything_is_written(
    monkeypatch, capsys, tiny, trained, tmp_path, kind
):
    path, expected = foreign_files(tmp_path, trained)[kind]
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", "--ckpt_path", str(path)))
    assert line.startswith(f"simclr: error: {expected}"), line
    assert "does not exist" not in line
    assert not (tmp_path / "run").exists()  # no run folder, no config.yaml, no lock


def test_resuming_fit_from_a_fine_tuned_checkpoint_says_what_it_is(monkeypatch, capsys, tiny, trained, tmp_path):
    tuned = finetune_tiny(trained, tmp_path / "ft")
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", "--ckpt_path", str(tuned)))
    assert line == (
        f"simclr: error: checkpoint {tuned} is a fine-tuned checkpoint (written by `simclr finetune`), and `simclr fit` "
        f"resumes only pretraining checkpoints; resume it with `simclr finetune --ckpt_path last`, or pass a "
        f"`simclr fit` checkpoint"
    )
    assert not (tmp_path / "run").exists()


def copy_of_trained(trained: Path, run: Path) -> Path:
    """`run`/ckpt/last.ckpt, a copy of the 2-step tiny run: a run folder to resume with `--ckpt_path last`."""
    (run / "ckpt").mkdir(parents=True)
    return Path(shutil.copy(trained, run / "ckpt" / "last.ckpt"))


def test_ckpt_path_last_refuses_changed_model_options_as_an_explicit_path_does(
    monkeypatch, capsys, tiny, trained, tmp_path
):
    last = copy_of_trained(trained, tmp_path / "run")
    args = run_args(tiny, tmp_path / "run", "--ckpt_path", "last", "--model.optimizer.init_args.lr", "0.01")
    line = user_error(monkeypatch, capsys, *args)
    assert line.startswith(
        f"simclr: error: --ckpt_path last ({last}) was trained with model.optimizer.init_args.lr=0.1, but this command "
        f"sets 0.01; a resume runs the checkpoint's own model options"
    )
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt"]
    assert last.read_bytes() == trained.read_bytes()


@pytest.mark.parametrize("how", ["explicit", "last"])
def test_a_resume_compares_the_data_options_but_lets_the_root_move(monkeypatch, capsys, tiny, trained, tmp_path, how):
    last = copy_of_trained(trained, tmp_path / "run")
    ckpt, shown = (str(trained), str(trained)) if how == "explicit" else ("last", f"last ({last})")
    args = run_args(tiny, tmp_path / "run", "--ckpt_path", ckpt, "--data.init_args.batch_size", "16")
    line = user_error(monkeypatch, capsys, *args)
    assert line.startswith(
        f"simclr: error: --ckpt_path {shown} was trained with data.init_args.batch_size=8, but this command sets 16; "
        f"a resume must see the data it was trained on (only data.init_args.root"
    ), line
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", "--ckpt_path", ckpt,
                                                     "--data", "simclr.data.datamodules.CIFAR10"))  # fmt: skip
    assert f"--ckpt_path {shown} was trained with data.class_path='simclr.data.FashionMNIST'" in line
    moved = tmp_path / "moved"
    shutil.copytree(Path(yaml.safe_load(tiny.read_text())["data"]["init_args"]["root"]), moved)
    resumed = run_fit(run_args(tiny, tmp_path / "run", "--ckpt_path", ckpt, "--data.init_args.root", str(moved),
                               "--data.init_args.num_workers", "1", "--trainer.max_steps", "3"))  # fmt: skip
    assert resumed.trainer.global_step == 3


def test_a_new_fit_in_an_earlier_runs_folder_is_refused(monkeypatch, capsys, tiny, tmp_path):
    logged = ["--trainer.logger.init_args.version", "fixed"]
    run_fit(run_args(tiny, tmp_path, "--trainer.max_steps", "1", *logged))
    config = tmp_path / "simclr" / "fixed" / "config.yaml"
    before = config.read_text(), (tmp_path / "ckpt" / "last.ckpt").read_bytes()
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path, "--trainer.max_steps", "2", *logged))
    assert line == (
        f"simclr: error: {tmp_path / 'ckpt'} already holds an earlier run (last.ckpt); resume it with --ckpt_path last, "
        f"or give this run a new folder (--checkpoint.dirpath, --trainer.logger.init_args.save_dir or version)"
    )
    other = ["--checkpoint.dirpath", str(tmp_path / "ckpt2")]
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path, "--trainer.max_steps", "2", *logged), *other)
    assert f"{config.parent} already holds an earlier run (config.yaml)" in line
    assert (config.read_text(), (tmp_path / "ckpt" / "last.ckpt").read_bytes()) == before
    assert not list(tmp_path.rglob("*.simclr-fit.lock"))
    resumed = run_fit(run_args(tiny, tmp_path, "--trainer.max_steps", "2", *logged, "--ckpt_path", "last"))
    assert resumed.trainer.global_step == 2  # resuming into the same folder is what it is for
