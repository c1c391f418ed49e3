"""Reliability: one-line errors for user mistakes (through `simclr`'s entry point), exact resume after a
SIGKILL, reproducible runs, per-rank augmentation streams, atomic checkpoint writes."""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import fakedata
from helpers.cli import run_args, user_error

from augmentations import MultiView, presets
from simclr import pretraining as cli
from simclr.data.resumable import EpochRandomSampler, ResumableDataLoader
from simclr.safety.checkpoint_files import AtomicCheckpointIO
from simclr.safety.rng import AugmentationRNG, stream_seed

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

REPO = Path(__file__).resolve().parents[1]
SIMCLR = Path(sys.executable).parent / "simclr"


def test_missing_dataset_directory(monkeypatch, capsys, tiny, tmp_path):
    line = user_error(
        monkeypatch, capsys, *run_args(tiny, tmp_path, "--data.init_args.root", str(tmp_path / "nowhere"))
    )
    assert (
        line.startswith(f"simclr: error: Fashion-MNIST not found in {tmp_path / 'nowhere'}")
        and "--data.init_args.root" in line
    )


def image_folder_args(tiny: Path, run: Path, root: Path) -> list[str]:
    return run_args(
        tiny,
        run,
        "--data",
        "simclr.data.datamodules.ImageFolder",
        "--data.init_args.root",
        str(root),
        "--data.init_args.image_size",
        "16",
        "--data.init_args.batch_size",
        "4",
        "--model.encoder.init_args.in_channels",
        "3",
        "--model.augment.init_args.pipeline",
        "augmentations.presets.simclr_cifar",
        "--model.augment.init_args.pipeline.size",
        "16",
    )


def test_empty_image_folder(monkeypatch, capsys, tiny, tmp_path):
    (tmp_path / "images").mkdir()
    line = user_error(monkeypatch, capsys, *image_folder_args(tiny, tmp_path, tmp_path / "images"))
    assert f"no image folder at {tmp_path / 'images'}" in line and "--data.init_args.root" in line


def test_unreadable_image_in_image_folder(monkeypatch, capsys, tiny, tmp_path):
    root = fakedata.write_image_folder(tmp_path / "images", n_per_class=4)
    fakedata.write_image_folder(tmp_path / "val", n_per_class=2)  # the sibling val/ folder
    (root / "a" / "002.png").write_bytes(b"not a png")
    line = user_error(monkeypatch, capsys, *image_folder_args(tiny, tmp_path, root))
    assert f"cannot decode image {root / 'a' / '002.png'}" in line and "replace the file" in line


def test_channel_mismatch_between_data_and_encoder(monkeypatch, capsys, tiny, tmp_path):
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path, "--model.encoder.init_args.in_channels", "3"))
    assert "the data (FashionMNIST) has 1-channel images but the encoder expects 3" in line
    assert "model.encoder.init_args.in_channels: 1" in line


@pytest.mark.parametrize(
    "option, expected",
    [
        (["--model.encoder.init_args.widht", "3"], "model.encoder: Option 'widht' is not accepted"),
        (["--model.fooo", "1"], "model: Option 'fooo' is not accepted"),
        (["--data.init_args.batch_size", "eight"], "Expected a <class 'int'>. Got value: eight"),
    ],
)
def test_unknown_config_key_or_wrong_type(monkeypatch, capsys, tiny, tmp_path, option, expected):
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path, *option))
    assert expected in line and "simclr fit --help" in line


@pytest.mark.parametrize("temperature", ["0", "-0.1"])
def test_temperature_not_positive(monkeypatch, capsys, tiny, tmp_path, temperature):
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path, "--model.loss.init_args.temperature", temperature))
    assert f"temperature must be > 0, got {float(temperature)}" in line and "model.loss.init_args.temperature" in line


def test_batch_size_one_has_no_negatives(monkeypatch, capsys, tiny, tmp_path):
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path, "--data.init_args.batch_size", "1"))
    assert "data.init_args.batch_size is 1, but NT-Xent needs at least 2 images per batch" in line


def bad_checkpoints(tmp_path: Path, trained: Path) -> dict[str, tuple[Path, str]]:
    """Checkpoint files a user may pass by mistake, and the words of the error each must give."""
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(trained.read_bytes()[: trained.stat().st_size // 2])  # a copy cut off mid-write
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(bytes(range(256)) * 16)  # not a torch.save file at all
    return {
        "missing": (tmp_path / "nope.ckpt", "does not exist"),
        "truncated": (truncated, "is truncated or corrupt"),
        "corrupt": (corrupt, "is truncated or corrupt"),
    }


@pytest.mark.parametrize("kind", ["missing", "truncated", "corrupt"])
def test_bad_checkpoint_for_fit_probe_and_export(monkeypatch, capsys, tiny, trained, tmp_path, kind):
    path, expected = bad_checkpoints(tmp_path, trained)[kind]
    for args in (
        run_args(tiny, tmp_path / "run", "--ckpt_path", str(path)),
        ["probe", "--ckpt", str(path)],
        ["export", "--ckpt", str(path)],
    ):
        line = user_error(monkeypatch, capsys, *args)
        assert f"checkpoint {path} {expected}" in line, (args[0], line)


def test_checkpoint_of_another_architecture(monkeypatch, capsys, tiny, trained, tmp_path):
    # LightningCLI rebuilds the model from the config saved in a `simclr fit` checkpoint; one without it
    # (e.g. saved from Python) is loaded into the command line's model, here twice as wide
    checkpoint = torch.load(trained, weights_only=False)
    checkpoint["hyper_parameters"] = {}
    other = tmp_path / "width8.ckpt"
    torch.save(checkpoint, other)
    line = user_error(
        monkeypatch,
        capsys,
        *run_args(tiny, tmp_path, "--ckpt_path", str(other), "--model.encoder.init_args.width", "16"),
    )
    assert (
        f"checkpoint {other} is from another architecture: encoder.net.conv1.weight has shape (8, 1, 7, 7) in the checkpoint but (16, 1, 7, 7)"
        in line
    )
    foreign = tmp_path / "backbone.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, foreign)  # e.g. the output of `simclr export`
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(foreign))
    assert f"checkpoint {foreign} was not written by `simclr fit`" in line


def test_probe_asking_for_z_of_a_checkpoint_without_head(monkeypatch, capsys, tiny, tmp_path):
    cli.run_fit(run_args(tiny, tmp_path, "--trainer.max_steps", "1", "--model.head", "torch.nn.Identity"))
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    line = user_error(monkeypatch, capsys, "probe", "--ckpt", str(ckpt), "--representations", "[h, z]")
    assert (
        f"checkpoint {ckpt} has no projection head, so it has no 'z' to probe" in line
        and "--representations '[h]'" in line
    )


def test_weights_that_explode_are_never_saved(monkeypatch, capsys, tiny, tmp_path):
    line = user_error(
        monkeypatch,
        capsys,
        *run_args(tiny, tmp_path, "--model.optimizer.init_args.lr", "1e30", "--checkpoint.every_n_train_steps", "1"),
    )
    assert "grew beyond 1e6 by step 1; likely causes: the learning rate is too high" in line, line
    assert "last good checkpoint" not in line  # none was written: step 1's weights were already absurd
    assert not (tmp_path / "ckpt" / "last.ckpt").exists()


def test_divergence_names_the_last_sane_checkpoint_only(monkeypatch, capsys, tiny, tmp_path):
    scale = ["--trainer.callbacks+=helpers.blowup.ScaleWeightsAfterStep", "--trainer.callbacks.step", "3"]
    every = ["--checkpoint.every_n_train_steps", "1"]
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", *every, *scale))
    last = tmp_path / "run" / "ckpt" / "last.ckpt"
    assert "grew beyond 1e6 by step 3; likely causes: the learning rate is too high" in line, line
    assert f"the last good checkpoint is {last} (it keeps this run's settings" in line
    checkpoint = torch.load(last, weights_only=False)
    assert checkpoint["global_step"] == 2
    assert all(v.abs().max() < 1e6 for v in checkpoint["state_dict"].values() if v.is_floating_point() and v.numel())
    # resumed from a last.ckpt whose weights are absurd, the run diverges again and names no checkpoint as good
    checkpoint["state_dict"] = {
        k: v * 1e29 if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()
    }
    torch.save(checkpoint, last)
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", *every, "--ckpt_path", "last"))
    assert "the training loss became nan at step 3; likely causes: the learning rate is too high" in line, line
    assert "last good checkpoint" not in line


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run / "ckpt" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 16  # 2 epochs of 8 steps
    return checkpoint["state_dict"]


def test_sigkilled_run_resumed_from_last_ends_with_the_uninterrupted_weights(tiny, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    every = ["--checkpoint.every_n_train_steps", "3"]
    # kill at step 11 (epoch 2, batch 3): last.ckpt is from step 9, steps 10-11 are lost and redone
    kill = ["--trainer.callbacks+=helpers.killer.KillAfterStep", "--trainer.callbacks.step", "11"]
    killed = subprocess.Popen(
        [str(SIMCLR), *run_args(tiny, tmp_path / "resumed", *every, *kill)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same kernels as the OMP_NUM_THREADS=1 subprocess
    try:
        cli.run_fit(run_args(tiny, tmp_path / "uninterrupted", *every))  # meanwhile, in this process
        assert killed.wait(timeout=300) == -signal.SIGKILL, killed.stderr.read()[-2000:]
        assert torch.load(tmp_path / "resumed" / "ckpt" / "last.ckpt", weights_only=False)["global_step"] == 9
        cli.run_fit(run_args(tiny, tmp_path / "resumed", *every, "--ckpt_path", "last"))
    finally:
        torch.set_num_threads(threads)
    expected, resumed = final_weights(tmp_path / "uninterrupted"), final_weights(tmp_path / "resumed")
    assert expected.keys() == resumed.keys()
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], rtol=0, atol=1e-6, msg=key)


def loss_curve(run: Path) -> list[tuple[int, float]]:
    rows = list(csv.DictReader(open(next(run.rglob("metrics.csv")))))
    return [(int(r["step"]), float(r["train/loss"])) for r in rows if r.get("train/loss")]


def test_same_seed_and_config_give_identical_loss_curves(tiny, tmp_path):
    for name in ("a", "b"):
        cli.run_fit(
            run_args(
                tiny,
                tmp_path / name,
                "--trainer.logger",
                "lightning.pytorch.loggers.CSVLogger",
                "--trainer.logger.init_args.save_dir",
                str(tmp_path / name),
                "--trainer.max_steps",
                "6",
            )
        )
    curve = loss_curve(tmp_path / "a")
    assert len(curve) == 6 and curve == loss_curve(tmp_path / "b")


def test_ranks_draw_different_augmentations_and_a_restored_stream_repeats_its_draws():
    assert len({stream_seed(0, rank, step) for rank in range(4) for step in range(4)}) == 16
    augment = MultiView(presets.simclr_fashion_mnist(28))
    images = fakedata.fake_images(8, (1, 28, 28), seed=0)

    def draw(rng: AugmentationRNG, rank: int) -> torch.Tensor:
        with rng.draw("cpu", rank=rank):
            return torch.cat(augment(images))

    rank0, rank1 = AugmentationRNG(seed=7), AugmentationRNG(seed=7)
    assert not torch.equal(draw(rank0, 0), draw(rank1, 1))  # same seed and step, another rank
    saved = rank0.state_dict()
    expected = draw(rank0, 0)
    restored = AugmentationRNG(seed=123)
    restored.load_state_dict(saved)
    before = torch.get_rng_state()
    assert torch.equal(draw(restored, 0), expected)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is left as it was


def test_resumable_loader_continues_the_epoch_it_was_saved_in():
    dataset = torch.arange(20)
    loader = ResumableDataLoader(dataset, batch_size=4, sampler=EpochRandomSampler(dataset, seed=5))
    loader.sampler.set_epoch(3)
    full = [b.tolist() for b in loader]
    iterator = iter(loader)
    seen = [next(iterator).tolist() for _ in range(2)]
    state = loader.state_dict()
    fresh = ResumableDataLoader(dataset, batch_size=4, sampler=EpochRandomSampler(dataset, seed=0))
    fresh.load_state_dict(state)
    assert state == {"batches": 2, "epoch": 3, "seed": 5}
    assert seen + [b.tolist() for b in fresh] == full
    assert len(fresh) == 5 and len([b for b in fresh]) == 5  # the next pass is a whole epoch again


def test_atomic_checkpoint_write_leaves_the_old_file_when_saving_fails(tmp_path):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)
    with pytest.raises(Exception):
        io.save_checkpoint({"step": 2, "unpicklable": lambda: None}, path)  # fails inside torch.save
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind
