"""`simclr export`: the encoder of a pretraining checkpoint as a torchvision state_dict, TorchScript or ONNX."""

import importlib.util
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from simclr.errors import UserError, short_reason
from simclr.loading.finetuned import load_encoder_model
from simclr.loading.pretrained import load_datamodule
from simclr.methods.simclr import SimCLR
from simclr.models.small_map_conv_cpu import use_plain_convs
from simclr.safety.output_paths import check_output_file, record_outputs, same_file, written_atomically
from simclr.safety.run_folder import writable_folder
from simclr.safety.safe_loading import read_checkpoint_file

DUMMY_BATCH = 2  # images in the example batch that torchscript and onnx trace; the batch axis stays free
ONNX_OPSET = 17  # opset of the legacy TorchScript-based ONNX exporter, run through onnxruntime in the tests
EXPORT_EXTRA = "pip install 'simclr-toolkit[export]'"


def export(
    ckpt: str,
    out: str = "backbone.pt",
    format: Literal["torchvision", "torchscript", "onnx"] = "torchvision",
    image_size: int | None = None,
    weights_only: bool = True,
    overwrite: bool = False,
    text_out: str | None = None,
) -> Path:
    """Write the encoder of a checkpoint (projection head dropped) as a torchvision state_dict, TorchScript or ONNX.

    `torchvision`: a plain ResNet state_dict. For a ResNet-18 layout at width 64 with the ImageNet stem and
    3 channels it loads with `torchvision.models.resnet18().load_state_dict(torch.load(out), strict=True)`;
    with the CIFAR stem (or another channel count), first set the torchvision model's `conv1` to the same
    shape (and `maxpool` to `nn.Identity()` for the CIFAR stem). The `fc` entries are a zero 1000-way classifier.

    `torchscript` (load with `torch.jit.load`) and `onnx` (input `images`, output `h`, free batch axis):
    the encoder in eval mode, images (B, C, H, W) float32 -> h (B, feature_dim). The graph takes
    normalised images, as the encoder does: apply `(pixels / 255 - mean) / std` with the mean and std
    printed on export (the checkpoint's augmentation pipeline's). It is traced on a batch of C x H x W
    images: C from the encoder, H = W from `image_size`, else the checkpoint's data module, else the
    pipeline's crop size; the encoder's first convolution must fit in it. The graph uses plain convolutions
    (a checkpoint trained with the CPU workaround `small_map_gemm` exports the same weights without it).
    The onnx format needs `pip install 'simclr-toolkit[export]'` (onnx, onnxruntime).

    An existing --out is replaced only when `simclr export` wrote it (its record in the folder,
    `simclr.safety.output_paths`) or with `overwrite`; never when it is the checkpoint by any route.

    Args:
        ckpt: checkpoint written by `simclr fit`, `simclr finetune` or `simclr distill`.
        out: the file to write (never the checkpoint itself, by any path, symbolic or hard link).
        format: torchvision (state_dict), torchscript or onnx.
        image_size: side in pixels of the images the torchscript / onnx graph is traced on.
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
        overwrite: replace an existing --out that `simclr export` did not write.
        text_out: of an image-text checkpoint, also write its text tower to this file: a dict (read it with
            `torch.load(text_out, weights_only=True)`) of `state_dict` (the TextTransformer's `text_encoder.*` and
            the text projection's `text_head.*` weights), `config` (the TextTransformer's init_args) and `tokenizer`
            (its JSON and context length, for `simclr.captions.CaptionTokenizer.from_json`). --out holds the image
            tower, as for every checkpoint.
    """
    out_path = Path(out)
    if same_file(out_path, ckpt):
        raise UserError(
            f"--out {out} is the checkpoint being exported (the same file); pass another path, e.g. --out backbone.pt"
        )
    check_output_file(out_path, [("--ckpt", ckpt)], "--out", "export", overwrite)
    if format == "onnx":
        missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
        if missing:
            raise UserError(f"--format onnx needs {' and '.join(missing)}, which is not installed; run {EXPORT_EXTRA}")
    if image_size is not None and image_size < 1:
        raise UserError(f"--image_size is {image_size}; pass the side of the images in pixels, e.g. --image_size 32")
    writable_folder(out_path.parent, "the folder of --out")
    model = load_encoder_model(ckpt, weights_only=weights_only)  # a pretraining or a fine-tuned checkpoint
    if text_out is not None:
        export_text_tower(model, ckpt, Path(text_out), out_path, weights_only, overwrite)
    encoder = model.encoder.eval()
    feature_dim = encoder.feature_dim
    if format == "torchvision":
        with written_atomically(out_path) as temporary:
            torch.save(encoder.backbone_state_dict(), temporary)
        record_outputs(out_path.parent, [out_path.name], "export", with_stat=True)
        print(f"wrote {out_path} (torchvision state_dict, feature_dim {feature_dim})")
        return out_path
    channels = getattr(encoder, "in_channels", None) or _datamodule_attr(ckpt, "channels", weights_only)
    trained_side = _datamodule_attr(ckpt, "image_size", weights_only) or _crop_size(model)
    side = image_size or trained_side
    if channels is None or side is None:
        raise UserError(f"cannot tell the image shape of checkpoint {ckpt}; pass --image_size (the side in pixels)")
    use_plain_convs(encoder)  # the CPU training workaround off: F.conv2d traces for any image size
    images = traceable_images(encoder, channels, side, trained_side)  # (B, C, H, W), normalised-scale values
    with warnings.catch_warnings(), written_atomically(out_path) as temporary:
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the encoder's channel check: C is fixed
        warnings.filterwarnings("ignore", category=FutureWarning, message=r"`torch\.jit\.")  # deprecation notices
        if format == "torchscript":
            with torch.no_grad():
                torch.jit.save(torch.jit.trace(encoder, images), str(temporary))
        else:
            # traced with autograd on: attention then takes its plain path (matmuls, softmax), which ONNX can express;
            # under no_grad torch picks a fused kernel (`_native_multi_head_attention`) that has no ONNX export
            _export_onnx(encoder, images, temporary)
    record_outputs(out_path.parent, [out_path.name], "export", with_stat=True)
    print(
        f"wrote {out_path} ({format}: images (B, {channels}, {side}, {side}) float32 -> h (B, {feature_dim}); "
        f"input (pixels / 255 - mean) / std, {_normalisation(model)})"
    )
    return out_path


def export_text_tower(model: nn.Module, ckpt: str, path: Path, image_out: Path, weights_only: bool,
                      overwrite: bool) -> None:  # fmt: skip
    """Writes the text tower of an image-text model (see `export`'s `text_out`); a one-line UserError otherwise."""
    if not hasattr(model, "text_encoder"):
        raise UserError(
            f"--text_out: {ckpt} is a {type(model).__name__} checkpoint without a text tower; drop --text_out"
        )
    if same_file(path, ckpt) or path.resolve() == image_out.resolve():
        raise UserError(f"--text_out {path} is the checkpoint or --out; pass another path, e.g. --text_out text.pt")
    check_output_file(path, [("--ckpt", ckpt)], "--text_out", "export", overwrite)
    writable_folder(path.parent, "the folder of --text_out")
    saved = read_checkpoint_file(ckpt, weights_only)
    config = saved["hyper_parameters"].get("text_encoder", {})
    weights = {k: v for k, v in model.state_dict().items() if k.startswith(("text_encoder.", "text_head."))}
    payload = {"state_dict": weights, "config": config.get("init_args", config) if isinstance(config, dict) else {},
               "tokenizer": saved.get("tokenizer")}  # fmt: skip
    with written_atomically(path) as temporary:
        torch.save(payload, temporary)
    record_outputs(path.parent, [path.name], "export", with_stat=True)
    print(f"wrote {path} (text tower: {len(weights)} tensors, its config and tokenizer)")


def traceable_images(encoder: nn.Module, channels: int, side: int, trained_side: int | None) -> Tensor:
    """A (DUMMY_BATCH, channels, side, side) batch the encoder takes; a one-line UserError for a side smaller
    than its first convolution's kernel or one it fails on (e.g. a ViT built for another size)."""
    advice = (
        f"the side of the images it was trained on, --image_size {trained_side}" if trained_side else "a larger side"
    )
    first = next((m for m in encoder.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and side < max(first.kernel_size):
        kernel = " x ".join(map(str, first.kernel_size))
        raise UserError(
            f"--image_size {side} is smaller than the encoder's first convolution ({kernel} kernel); pass {advice}"
        )
    images = torch.randn(DUMMY_BATCH, channels, side, side)
    try:
        with torch.no_grad():
            encoder(images)
    except (RuntimeError, ValueError, AssertionError) as e:
        raise UserError(
            f"--image_size {side}: the encoder cannot take {side} x {side} images ({short_reason(e, 80)}); pass {advice}"
        ) from None
    return images


def _datamodule_attr(ckpt: str, name: str, weights_only: bool) -> int | None:
    """`channels` or `image_size` of the checkpoint's data module (built, no data read), None if it records none."""
    try:
        return getattr(load_datamodule(ckpt, weights_only=weights_only), name, None)
    except UserError:
        return None


def _crop_size(model: SimCLR) -> int | None:
    """The output side of the augmentation pipeline's first crop or resize, None if it has none."""
    for module in model.augment.modules():
        size = getattr(module, "size", None) if type(module).__name__ in ("RandomResizedCrop", "Resize") else None
        if isinstance(size, int):
            return size
        if isinstance(size, (tuple, list)) and len(size) == 2 and size[0] == size[1]:
            return int(size[0])
    return None


def _normalisation(model: SimCLR) -> str:
    """'mean [...] std [...]' of the checkpoint's augmentation pipeline, or a note that it has none."""
    pipeline = getattr(model.augment, "pipeline", model.augment)
    mean, std = getattr(pipeline, "mean", None), getattr(pipeline, "std", None)
    if not isinstance(mean, Tensor) or not isinstance(std, Tensor):
        return "mean and std as in pretraining (the checkpoint's pipeline records none)"
    return f"mean {[round(v, 6) for v in mean.flatten().tolist()]} std {[round(v, 6) for v in std.flatten().tolist()]}"


def _export_onnx(encoder: nn.Module, images: Tensor, out_path: Path) -> None:
    """`images` (B, C, H, W) -> `h` (B, feature_dim) as ONNX with a free batch axis (legacy TorchScript exporter)."""
    torch.onnx.export(
        encoder,
        (images,),
        str(out_path),
        input_names=["images"],
        output_names=["h"],
        dynamic_axes={"images": {0: "batch"}, "h": {0: "batch"}},
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
