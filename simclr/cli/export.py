"""`simclr export`: the encoder of a pretraining checkpoint as a plain torchvision ResNet state_dict."""

from pathlib import Path

import torch

from simclr.cli.pretrained import load_pretrained
from simclr.errors import UserError
from simclr.training.run_folder import writable_folder


def export(ckpt: str, out: str = "backbone.pt", weights_only: bool = True) -> Path:
    """Write the encoder of a checkpoint as a plain torchvision ResNet state_dict (projection head dropped).

    For a ResNet-18 layout at width 64 with the ImageNet stem and 3 channels it loads with
    `torchvision.models.resnet18().load_state_dict(torch.load(out), strict=True)`; with the CIFAR stem
    (or another channel count), first set the torchvision model's `conv1` to the same shape (and
    `maxpool` to `nn.Identity()` for the CIFAR stem). The `fc` entries are a zero 1000-way classifier.

    Args:
        ckpt: checkpoint written by `simclr fit`.
        out: where to write the state_dict (never the checkpoint itself).
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
    """
    out_path = Path(out)
    if out_path.exists() and out_path.resolve() == Path(ckpt).resolve():
        raise UserError(f"--out {out} is the checkpoint being exported; pass another path, e.g. --out backbone.pt")
    writable_folder(out_path.parent, "the folder of --out")
    model = load_pretrained(ckpt, weights_only=weights_only)
    torch.save(model.encoder.backbone_state_dict(), out_path)
    print(f"wrote {out_path} (torchvision ResNet state_dict, feature_dim {model.encoder.feature_dim})")
    return out_path
