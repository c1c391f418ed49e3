"""`simclr export --format torchvision | torchscript | onnx` on the tiny checkpoint (1 x 28 x 28, width 8)."""

from pathlib import Path

import pytest
import torch
from helpers.cli import user_error

from simclr.cli.main import run_command
from simclr.loading import export as export_module
from simclr.methods.simclr import SimCLR


def encoder_of(ckpt: Path) -> torch.nn.Module:
    return SimCLR.load_from_checkpoint(ckpt, map_location="cpu").encoder.eval()


@pytest.mark.slow
def test_torchscript_gives_the_encoders_h(trained, tmp_path, capsys):
    out = tmp_path / "encoder.ts"
    run_command(["export", "--ckpt", str(trained), "--out", str(out), "--format", "torchscript"])
    printed = capsys.readouterr().out
    assert "images (B, 1, 28, 28) float32 -> h (B, " in printed and "mean [" in printed and "std [" in printed
    scripted = torch.jit.load(str(out))
    encoder = encoder_of(trained)
    for batch in (export_module.DUMMY_BATCH, 5):
        x = torch.randn(batch, 1, 28, 28)
        with torch.no_grad():
            h = scripted(x)
            assert h.shape == (batch, encoder.feature_dim)
            assert torch.allclose(h, encoder(x), atol=1e-5)


@pytest.mark.slow
def test_onnx_gives_the_encoders_h_for_any_batch_size(trained, tmp_path):
    import onnxruntime  # installed by make (the [export] extra): a missing one fails, never skips

    out = tmp_path / "encoder.onnx"
    run_command(["export", "--ckpt", str(trained), "--out", str(out), "--format", "onnx"])
    runtime = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in runtime.get_inputs()] == ["images"] and [o.name for o in runtime.get_outputs()] == ["h"]
    encoder = encoder_of(trained)
    for batch in (export_module.DUMMY_BATCH, 7):  # the traced batch size, and another (free batch axis)
        x = torch.randn(batch, 1, 28, 28)
        (h,) = runtime.run(["h"], {"images": x.numpy()})
        with torch.no_grad():
            expected = encoder(x)
        assert h.shape == (batch, encoder.feature_dim)
        assert torch.allclose(torch.from_numpy(h), expected, atol=1e-4)


@pytest.mark.slow
def test_image_size_option_sets_the_traced_shape(trained, tmp_path, capsys):
    out = tmp_path / "encoder.ts"
    run_command(["export", "--ckpt", str(trained), "--out", str(out), "--format", "torchscript", "--image_size", "32"])
    assert "images (B, 1, 32, 32)" in capsys.readouterr().out
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(out))(x), encoder_of(trained)(x), atol=1e-5)


@pytest.mark.slow
def test_torchvision_format_is_the_backbone_state_dict(trained, tmp_path):
    out = tmp_path / "backbone.pt"
    run_command(["export", "--ckpt", str(trained), "--out", str(out), "--format", "torchvision"])
    default = tmp_path / "default.pt"
    run_command(["export", "--ckpt", str(trained), "--out", str(default)])
    expected = SimCLR.load_from_checkpoint(trained, map_location="cpu").encoder.backbone_state_dict()
    for path in (out, default):
        state = torch.load(path, weights_only=True)
        assert state.keys() == expected.keys()
        assert all(torch.equal(state[k], expected[k]) for k in expected)


@pytest.mark.slow
@pytest.mark.parametrize("format", ["torchvision", "torchscript", "onnx"])
def test_out_equal_to_the_checkpoint_is_refused(trained, monkeypatch, capsys, format):
    before = trained.read_bytes()
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained), "--out", str(trained), "--format", format)
    assert "is the checkpoint being exported" in line
    assert trained.read_bytes() == before


def test_unknown_format_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(tmp_path / "x.ckpt"), "--format", "tflite")
    assert "format" in line


def test_onnx_without_the_extra_names_the_install_command(tmp_path, monkeypatch, capsys):
    real_find_spec = export_module.importlib.util.find_spec
    monkeypatch.setattr(
        export_module.importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real_find_spec(name, *a)
    )
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(tmp_path / "x.ckpt"), "--format", "onnx")
    assert "pip install 'simclr-toolkit[export]'" in line


@pytest.mark.slow
def test_the_crop_size_is_the_fallback_image_side(trained):
    """Without --image_size or a data module in the checkpoint, the side is the pipeline's crop size."""
    assert export_module._crop_size(SimCLR.load_from_checkpoint(trained, map_location="cpu")) == 28


@pytest.mark.slow
def test_a_vit_checkpoint_exports_to_onnx(tmp_path, monkeypatch, capsys):
    from helpers import fakedata

    from simclr.pretraining import run_fit

    root = fakedata.write_fashion_mnist(tmp_path / "fm", n_train=32, n_test=16)
    config = Path(__file__).resolve().parents[1] / "configs" / "vit_fashion_mnist.yaml"
    run_fit(["fit", "--config", str(config), "--data.init_args.root", str(root), "--data.init_args.batch_size", "8",
             "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
             "--trainer.default_root_dir", str(tmp_path), "--checkpoint.dirpath", str(tmp_path / "ckpt"),
             "--trainer.logger", "false"])  # fmt: skip
    ckpt, out = tmp_path / "ckpt" / "last.ckpt", tmp_path / "vit.onnx"
    run_command(["export", "--ckpt", str(ckpt), "--format", "onnx", "--out", str(out)])
    import onnxruntime

    images = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = encoder_of(ckpt)(images)
    got = onnxruntime.InferenceSession(str(out)).run(["h"], {"images": images.numpy()})[0]
    assert torch.allclose(torch.from_numpy(got), expected, atol=1e-4)
    wrong = ["export", "--ckpt", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "b.onnx"), "--image_size", "32"]
    line = user_error(monkeypatch, capsys, *wrong)
    assert line.startswith("simclr: error: --image_size 32: the encoder cannot take 32 x 32 images (")
    assert line.endswith("); pass the side of the images it was trained on, --image_size 28")


@pytest.fixture(scope="module")
def demo_trained(tiny, tmp_path_factory) -> Path:
    """last.ckpt of a 1-step run of the tiny model with configs/trainer/cpu_demo.yaml stacked on (small_map_gemm on)."""
    from helpers.cli import run_args

    from simclr.pretraining import run_fit

    run = tmp_path_factory.mktemp("demo_trained")
    demo = Path(__file__).resolve().parents[1] / "configs" / "trainer" / "cpu_demo.yaml"
    run_fit(run_args(tiny, run, "--config", str(demo), "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1"))
    return run / "ckpt" / "last.ckpt"


@pytest.mark.slow
@pytest.mark.parametrize("format", ["torchscript", "onnx"])
def test_a_checkpoint_of_the_cpu_demo_trainer_exports(demo_trained, tmp_path, format):
    from simclr.models.small_map_conv_cpu import SmallMapConv2d

    encoder = encoder_of(demo_trained)
    assert any(isinstance(m, SmallMapConv2d) for m in encoder.modules())  # trained with the CPU workaround
    out = tmp_path / f"encoder.{format}"
    run_command(["export", "--ckpt", str(demo_trained), "--out", str(out), "--format", format])
    if format == "torchscript":
        graph = torch.jit.load(str(out))
    else:
        onnxruntime = pytest.importorskip("onnxruntime")
        runtime = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        graph = lambda x: torch.from_numpy(runtime.run(["h"], {"images": x.numpy()})[0])  # noqa: E731
    shapes = [(export_module.DUMMY_BATCH, 28), (5, 28)] + ([(3, 32)] if format == "torchscript" else [])
    for batch, side in shapes:  # onnx fixes the side; the torchscript graph takes another, no GEMM path baked in
        x = torch.randn(batch, 1, side, side)
        with torch.no_grad():
            assert torch.allclose(graph(x), encoder(x), atol=1e-4)


@pytest.mark.slow
def test_an_image_size_too_small_for_the_encoder_is_one_line(trained, tmp_path, monkeypatch, capsys):
    out = tmp_path / "encoder.ts"
    args = ["export", "--ckpt", str(trained), "--out", str(out), "--format", "torchscript", "--image_size"]
    line = user_error(monkeypatch, capsys, *args, "1")
    assert line == (
        "simclr: error: --image_size 1 is smaller than the encoder's first convolution (7 x 7 kernel); pass the "
        "side of the images it was trained on, --image_size 28"
    )
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("route", ["hard link", "symbolic link", "relative path"])
def test_out_naming_the_checkpoint_by_another_route_is_refused(trained, tmp_path, monkeypatch, capsys, route):
    before = trained.read_bytes()
    out = tmp_path / "out.ckpt"
    if route == "hard link":
        out.hardlink_to(trained)
    elif route == "symbolic link":
        out.symlink_to(trained)
    else:
        monkeypatch.chdir(trained.parent)
        out = Path("..") / trained.parent.name / trained.name
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained), "--out", str(out), "--overwrite", "true")
    assert line == (
        f"simclr: error: --out {out} is the checkpoint being exported (the same file); pass another path, e.g. "
        f"--out backbone.pt"
    )
    assert trained.read_bytes() == before


@pytest.mark.slow
def test_an_existing_out_is_replaced_only_when_export_wrote_it(trained, tmp_path, monkeypatch, capsys):
    mine = tmp_path / "notes.pt"
    mine.write_text("my notes")
    export = ["export", "--ckpt", str(trained), "--out", str(mine)]
    assert user_error(monkeypatch, capsys, *export) == (
        f"simclr: error: --out would replace {mine}, which simclr export did not write; pass another --out, or "
        f"--overwrite true to replace it"
    )
    assert mine.read_text() == "my notes"
    run_command([*export, "--overwrite", "true"])
    assert torch.load(mine, weights_only=True).keys() == encoder_of(trained).backbone_state_dict().keys()
    run_command(export)  # its own file: replaced again without --overwrite
    mine.write_text("edited since")
    assert "which simclr export did not write" in user_error(monkeypatch, capsys, *export)
    assert mine.read_text() == "edited since"
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained), "--out", str(tmp_path))
    assert (
        line == f"simclr: error: --out {tmp_path} is a folder; pass a file path, e.g. --out {tmp_path / 'backbone.pt'}"
    )
