"""`simclr probe` and `simclr export`: commands on a pretrained checkpoint (LightningCLI runs `fit`)."""

import logging
import time
from pathlib import Path

import torch

from simclr.checkpointing import read_checkpoint
from simclr.data import ImageDataModule
from simclr.errors import UserError
from simclr.features import projection_head, representation_names
from simclr.module import SimCLR
from simclr.probe import ProbeRecipe


def load_pretrained(ckpt: str, map_location: str | torch.device = "cpu") -> SimCLR:
    """The SimCLR module of a checkpoint written by `simclr fit`, rebuilt from its saved config.

    A missing file raises FileNotFoundError; a truncated, corrupt or foreign file a one-line UserError.
    """
    read_checkpoint(ckpt)  # memory-mapped: checks the file cheaply before Lightning loads it
    return SimCLR.load_from_checkpoint(Path(ckpt), map_location=map_location)


def check_representations(model: SimCLR, wanted: list[str] | None, ckpt: str) -> list[str]:
    """The representations to probe: `wanted`, or all the model has; UserError for one it lacks (z without a head)."""
    available = representation_names(projection_head(model.head))
    missing = [name for name in wanted or [] if name not in available]
    if missing:
        why = "has no projection head" if len(available) == 1 else f"has only {', '.join(available)}"
        raise UserError(
            f"checkpoint {ckpt} {why}, so it has no {missing[0]!r} to probe; pass --representations "
            f"'[{', '.join(available)}]' (or pretrain with a projection head, e.g. simclr.head.ProjectionHead)"
        )
    return wanted or available


def load_datamodule(ckpt: str, root: str | None = None) -> ImageDataModule:
    """The data module a checkpoint was trained with (its YAML config is saved in the checkpoint).

    Rebuilt here rather than with `ImageDataModule.load_from_checkpoint`: Lightning 2.6 filters the
    saved `_class_path` out of the kwargs before instantiating, so a subclass (FashionMNIST, CIFAR10, ...)
    comes back as the abstract base.
    """
    from lightning.pytorch.cli import instantiate_module

    hparams = dict(read_checkpoint(ckpt).get("datamodule_hyper_parameters") or {})
    if "_class_path" not in hparams:
        raise UserError(f"checkpoint {ckpt} records no data module (not written by `simclr fit`?); pass --data.class_path and --data.init_args.root")
    hparams.pop("_instantiator", None)
    if root:
        hparams["root"] = root
    return instantiate_module(ImageDataModule, hparams)


def export(ckpt: str, out: str = "backbone.pt") -> Path:
    """Write the encoder of a checkpoint as a plain torchvision ResNet state_dict (projection head dropped).

    For a ResNet-18 layout at width 64 with the ImageNet stem and 3 channels it loads with
    `torchvision.models.resnet18().load_state_dict(torch.load(out), strict=True)`; with the CIFAR stem
    (or another channel count), first set the torchvision model's `conv1` to the same shape (and
    `maxpool` to `nn.Identity()` for the CIFAR stem). The `fc` entries are a zero 1000-way classifier.

    Args:
        ckpt: checkpoint written by `simclr fit`.
        out: where to write the state_dict.
    """
    model = load_pretrained(ckpt)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.encoder.backbone_state_dict(), out_path)
    print(f"wrote {out_path} (torchvision ResNet state_dict, feature_dim {model.encoder.feature_dim})")
    return out_path


def probe(
    ckpt: str,
    data: ImageDataModule | None = None,
    root: str | None = None,
    max_iter: int = ProbeRecipe.max_iter,
    knn_k: int = 200,
    device: str = "auto",
    batch_size: int = 1024,
    baselines: bool = True,
    out_dir: str | None = None,
    representations: list[str] | None = None,
) -> Path:
    """Linear and kNN probes of every representation of a checkpoint: h, each head layer, z, a random
    encoder of the same architecture (random_h) and raw pixels; prints the table and writes `probe.md`,
    `probe.json` and `diagnostics.json` next to the checkpoint.

    Args:
        ckpt: checkpoint written by `simclr fit`.
        data: the labelled data (class_path/init_args); default: the data module the checkpoint was trained on.
        root: override the data root of the checkpoint's data module (data moved since pretraining).
        max_iter: L-BFGS iterations of each linear probe (same recipe for every representation).
        knn_k: neighbours of the kNN classifier.
        device: "cpu", "cuda" or "auto" (CUDA when available).
        batch_size: images per feature-extraction batch.
        baselines: also probe a random encoder of the same architecture (random_h) and raw pixels.
        out_dir: where to write the report; default: the checkpoint's folder.
        representations: which of h, head_1, ..., z to probe, e.g. [h, z]; default: all the checkpoint has.
    """
    from simclr.evaluate import evaluate_checkpoint
    from simclr.report import format_table, write_report

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
    model = load_pretrained(ckpt, map_location=dev)
    representations = check_representations(model, representations, ckpt)
    if data is None:
        data = load_datamodule(ckpt, root)
    elif root:
        data.root = root
    start = time.perf_counter()
    rows, diagnostics = evaluate_checkpoint(model, data, recipe=ProbeRecipe(max_iter=max_iter), knn_k=knn_k, device=dev, batch_size=batch_size,
                                            pixels=baselines, random_baseline=baselines, representations=representations)
    seconds = time.perf_counter() - start
    header = f"# Probe of {ckpt}\n\nLinear probe: frozen z-scored features, full-batch L-BFGS in PCA-whitened coordinates up to {ProbeRecipe.whiten_max_dim} dims ({max_iter} iterations, L2 {ProbeRecipe().weight_decay} on the z-scored weights); kNN: cosine, k={knn_k}. Took {seconds:.0f} s on {dev}.\n\n"
    out = Path(out_dir) if out_dir else Path(ckpt).parent
    md, js = write_report(rows, out, diagnostics=diagnostics, header=header)
    log_to_tensorboard(rows, diagnostics, out / "probe")
    print(format_table(rows))
    print(f"wrote {md} and {js}")
    return js


def log_to_tensorboard(rows: list, diagnostics: dict, log_dir: Path) -> None:
    """Probe accuracies, alignment / uniformity / RankMe and the singular value spectra as TensorBoard
    scalars (`tensorboard --logdir <run>` shows them next to the pretraining curves)."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(log_dir)) as writer:
        for row in rows:
            writer.add_scalar(f"probe/linear_top1/{row.representation}", row.linear_top1)
            if row.knn_top1 is not None:
                writer.add_scalar(f"probe/knn_top1/{row.representation}", row.knn_top1)
        for name, values in diagnostics.items():
            for key in ("alignment", "uniformity", "rankme"):
                writer.add_scalar(f"diagnostics/{key}/{name}", values[key])
            for k, s in enumerate(values["spectrum"]):  # x axis: singular value index
                writer.add_scalar(f"diagnostics/spectrum/{name}", s, global_step=k)
