"""Every YAML in configs/ runs through the CLI with a tiny budget on small generated data."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import fakedata
from torchvision.io import write_png

from simclr.captions import CaptionTokenizer, write_fashion_mnist_captions
from simclr.methods import ImageText
from simclr.methods.simclr import SimCLR
from simclr.pretraining import run_fit
from simclr.safety.safe_loading import read_checkpoint

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODEL_CONFIGS = sorted(p.name for p in CONFIGS.glob("*.yaml"))
TRAINER_CONFIGS = sorted(p.name for p in (CONFIGS / "trainer").glob("*.yaml"))
IMAGE_TEXT_CONFIGS = sorted(p.name for p in (CONFIGS / "image_text").glob("*.yaml"))


def fake_root(config: str, tmp: Path) -> list[str]:
    """Generate data in the config's on-disk format; return the CLI overrides that point at it."""
    if config.startswith("fashion_mnist") or config == "vit_fashion_mnist.yaml":
        return ["--data.init_args.root", str(fakedata.write_fashion_mnist(tmp / "fmnist"))]
    if config in ("cifar10.yaml", "convnext_cifar10.yaml"):
        return ["--data.init_args.root", str(fakedata.write_cifar10(tmp / "cifar10"))]
    if config == "stl10.yaml":
        return ["--data.init_args.root", str(fakedata.write_stl10(tmp / "stl10"))]
    if config == "imagenet.yaml":
        train = fakedata.write_image_folder(tmp / "imagenet" / "train", size=(40, 30))
        val = fakedata.write_image_folder(tmp / "imagenet" / "val", size=(30, 40))
        return [
            "--data.init_args.root",
            str(train),
            "--data.init_args.val_root",
            str(val),
            "--data.init_args.image_size",
            "36",
            "--data.init_args.num_workers",
            "0",
        ]
    if config == "own_images.yaml":  # an unlabelled tree: no class folders, several depths and sizes
        for i, image in enumerate(fakedata.fake_images(12, (3, 40, 52), seed=3)):
            folder = tmp / "photos" / ("a/b" if i % 2 else "c")
            folder.mkdir(parents=True, exist_ok=True)
            write_png(image[:, :, : 36 + i], str(folder / f"{i}.png"))
        return ["--data.init_args.root", str(tmp / "photos"), "--data.init_args.num_workers", "0",
                "--data.init_args.val_fraction", "0.2", "--data.init_args.index_file", str(tmp / "photos.index")]  # fmt: skip
    if config == "clip_fashion_mnist.yaml":  # a caption set written by `simclr captions` from fake Fashion-MNIST
        fm = fakedata.write_fashion_mnist(tmp / "fmnist")
        captions = write_fashion_mnist_captions(fm, tmp / "captions", train_images=40, val_images=16)
        return ["--data.init_args.manifest", str(captions / "train.jsonl"),
                "--data.init_args.val_manifest", str(captions / "val.jsonl"), "--data.init_args.num_workers", "0"]  # fmt: skip
    raise AssertionError(f"no fake data for {config}: add it here when adding a config")


def tiny(tmp: Path) -> list[str]:
    return [
        "--data.init_args.batch_size",
        "4",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "1",
        "--trainer.logger.init_args.save_dir",
        str(tmp / "runs"),
        "--trainer.default_root_dir",
        str(tmp / "runs"),
    ]


@pytest.mark.parametrize("config", MODEL_CONFIGS)
def test_model_config_fast_dev_run(config, tmp_path):
    overrides = fake_root(config, tmp_path)
    if config == "imagenet.yaml":  # crop 224 px views from 36 px images: same code path, CPU-sized
        overrides += ["--model.augment.init_args.pipeline.init_args.size", "32"]
    if config == "own_images.yaml":  # 96 px: same code path, CPU-sized
        overrides += ["--model.augment.init_args.pipeline.init_args.size", "32", "--data.init_args.image_size", "32"]
    cli = run_fit(
        ["fit", "--config", str(CONFIGS / config), *overrides, *tiny(tmp_path), "--trainer.fast_dev_run", "1"]
    )
    assert cli.trainer.state.finished
    loss = cli.trainer.callback_metrics["train/loss"]
    assert torch.isfinite(loss)


@pytest.mark.parametrize("trainer_config", TRAINER_CONFIGS)
def test_trainer_config_fast_dev_run(trainer_config, tmp_path):
    args = [
        "fit",
        "--config",
        str(CONFIGS / "fashion_mnist.yaml"),
        "--config",
        str(CONFIGS / "trainer" / trainer_config),
    ]
    cli = run_fit([*args, *fake_root("fashion_mnist.yaml", tmp_path), *tiny(tmp_path), "--trainer.fast_dev_run", "1"])
    assert cli.trainer.state.finished
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def image_init_checkpoint(base: list[str], path: Path) -> Path:
    """A checkpoint dict as `simclr fit` writes it, holding the `encoder.*` weights of `base`'s image tower (the
    demo's SimCLR checkpoint that configs/image_text/lit.yaml names)."""
    encoder = run_fit([*base[1:], "--seed_everything", "1"], run=False).model.encoder  # base without "fit"
    torch.save({"state_dict": {f"encoder.{k}": v for k, v in encoder.state_dict().items()}}, path)
    return path


@pytest.mark.parametrize("image_text_config", IMAGE_TEXT_CONFIGS)
def test_image_text_config_fast_dev_run(image_text_config, tmp_path):
    base = [
        "fit",
        "--config",
        str(CONFIGS / "clip_fashion_mnist.yaml"),
        *fake_root("clip_fashion_mnist.yaml", tmp_path),
    ]
    args = [*base, "--config", str(CONFIGS / "image_text" / image_text_config)]
    if image_text_config == "lit.yaml":
        init = image_init_checkpoint(base, tmp_path / "demo.ckpt")
        args += ["--model.init_args.image_init", str(init)]
    cli = run_fit([*args, *tiny(tmp_path), "--trainer.fast_dev_run", "1"])
    assert cli.trainer.state.finished
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert torch.isfinite(cli.trainer.callback_metrics["val/i2t_r1"])
    if image_text_config == "lit.yaml":  # the locked tower is the checkpoint's, BatchNorm statistics included
        saved = torch.load(tmp_path / "demo.ckpt")["state_dict"]
        for key, value in cli.model.encoder.state_dict().items():
            assert torch.equal(value, saved[f"encoder.{key}"]), key


def test_a_clip_checkpoint_carries_its_tokenizer_loads_back_and_resumes(tmp_path):
    base = ["fit", "--config", str(CONFIGS / "clip_fashion_mnist.yaml"), *fake_root("clip_fashion_mnist.yaml", tmp_path),
            *tiny(tmp_path), "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
            "--trainer.enable_progress_bar", "false"]  # fmt: skip
    cli = run_fit([*base, "--trainer.max_epochs", "1"])
    last = Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt"
    checkpoint = read_checkpoint(last)  # weights_only, every class of its configs on the allowed list
    tokenizer = CaptionTokenizer.from_json(checkpoint["tokenizer"]["json"], checkpoint["tokenizer"]["context_length"])
    assert tokenizer.to_json() == cli.datamodule.tokenizer.to_json()
    loaded = ImageText.load_from_checkpoint(last, map_location="cpu")  # rebuilt from the YAML hparams
    for (name, a), b in zip(cli.model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    resumed = run_fit([*base, "--trainer.max_epochs", "2", "--ckpt_path", str(last)])
    assert resumed.trainer.global_step == 4


def test_fit_writes_last_and_best_checkpoints_and_tensorboard_logs_then_resumes(tmp_path):
    base = [
        "fit",
        "--config",
        str(CONFIGS / "fashion_mnist.yaml"),
        *fake_root("fashion_mnist.yaml", tmp_path),
        *tiny(tmp_path),
    ]
    short = [
        "--trainer.limit_train_batches",
        "3",
        "--trainer.limit_val_batches",
        "2",
        "--trainer.enable_progress_bar",
        "false",
    ]
    cli = run_fit([*base, *short, "--trainer.max_epochs", "2"])
    run_dir = Path(cli.trainer.log_dir)
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in ckpts and any(name.startswith("best-") for name in ckpts), ckpts
    assert list(run_dir.glob("events.out.tfevents.*")), "no TensorBoard event file"
    assert (run_dir / "config.yaml").exists()
    assert cli.trainer.global_step == 6
    loaded = SimCLR.load_from_checkpoint(
        run_dir / "checkpoints" / "last.ckpt", map_location="cpu"
    )  # rebuilt from the YAML hparams
    for (name, a), b in zip(cli.model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name

    last = str(run_dir / "checkpoints" / "last.ckpt")
    resumed = run_fit([*base, *short, "--trainer.max_epochs", "3", "--ckpt_path", last])
    assert resumed.trainer.global_step == 9  # continued from step 6, not restarted
    assert resumed.trainer.current_epoch == 3


def test_print_config_through_console_script(tmp_path):
    exe = Path(sys.executable).parent / "simclr"
    out = subprocess.run(
        [str(exe), "fit", "--config", str(CONFIGS / "cifar10.yaml"), "--print_config"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "class_path: simclr.models.ResNetEncoder" in out.stdout
    assert "temperature: 0.5" in out.stdout


def test_unknown_config_key_is_rejected(tmp_path):
    exe = Path(sys.executable).parent / "simclr"
    out = subprocess.run(
        [str(exe), "fit", "--config", str(CONFIGS / "fashion_mnist.yaml"), "--model.not_a_key", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "not_a_key" in out.stderr


def test_console_script_fit_exits_zero(tmp_path):
    exe = Path(sys.executable).parent / "simclr"
    args = [
        "fit",
        "--config",
        str(CONFIGS / "fashion_mnist.yaml"),
        *fake_root("fashion_mnist.yaml", tmp_path),
        *tiny(tmp_path),
        "--trainer.fast_dev_run",
        "1",
    ]
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_width_with_stage_widths_is_a_one_line_error():
    exe = Path(sys.executable).parent / "simclr"
    args = ["fit", "--config", str(CONFIGS / "fashion_mnist.yaml"), "--model.encoder.init_args.width", "16",
            "--model.encoder.init_args.stage_widths", "[1,2,3,4]"]  # fmt: skip
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert [line for line in out.stderr.splitlines() if line.startswith("simclr: error:")] == [
        "simclr: error: ResNetEncoder got both width 16 and stage_widths [1, 2, 3, 4]; give one: "
        "--model.encoder.init_args.stage_widths null to use width, or drop width"
    ]


@pytest.mark.parametrize(
    ("config", "overrides", "dim"),
    [
        ("cifar10.yaml", ["--model.encoder.init_args.width", "16"], 128),
        (
            "fashion_mnist.yaml",
            ["--model.encoder.init_args.stage_widths", "null", "--model.encoder.init_args.width", "16"],
            128,
        ),
        ("fashion_mnist.yaml", ["--model.encoder.init_args.stage_widths", "[8, 8, 8, 24]"], 24),
    ],
)
def test_an_honoured_width_override_changes_the_dim_of_h(config, overrides, dim):
    cli = run_fit(["--config", str(CONFIGS / config), *overrides], run=False)
    assert cli.model.encoder.feature_dim == dim
    assert cli.model.encoder(torch.zeros(2, cli.model.encoder.in_channels, 32, 32)).shape == (2, dim)
