"""`simclr export --format torchvision | torchscript | onnx` on the tiny checkpoint (1 x 28 x 28, width 8)."""

from pathlib import Path

import pytest
import torch
from helpers.cli import user_error

from simclr.cli import export as export_module
from simclr.cli.main import run_command
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
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / "encoder.onnx"
    run_command(["export", "--ckpt", str(trained), "--out", str(out), "--format", "onnx"])
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"] and [o.name for o in session.get_outputs()] == ["h"]
    encoder = encoder_of(trained)
    for batch in (export_module.DUMMY_BATCH, 7):  # the traced batch size, and another (free batch axis)
        x = torch.randn(batch, 1, 28, 28)
        (h,) = session.run(["h"], {"images": x.numpy()})
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
