"""`simclr probe`: linear and kNN probes of every representation of a pretraining checkpoint."""

import logging
import time
from pathlib import Path
from typing import Literal

import torch

from simclr.data.datamodules import ImageDataModule
from simclr.data.without_labels import WithoutLabels
from simclr.devices import resolve_device
from simclr.errors import UserError
from simclr.eval.evaluate import evaluate_checkpoint
from simclr.eval.figures import log_probe_views
from simclr.eval.linear_probe import ProbeRecipe
from simclr.eval.probe import KNN_K
from simclr.eval.report import format_table, write_report
from simclr.eval.sgd_probe import SGDProbeRecipe, evaluate_with_sgd
from simclr.loading.finetuned import finetuned_datamodule, is_finetuned, load_finetuned
from simclr.loading.pretrained import check_representations, load_datamodule, load_pretrained
from simclr.safety.run_folder import writable_folder
from simclr.safety.safe_loading import read_checkpoint_file

# How the report of a fine-tuned checkpoint begins: what is probed, and where its own accuracy is.
FINETUNED_NOTE = (
    "The encoder of a `simclr finetune` (or `simclr distill`) checkpoint, frozen: h only, no diagnostics; the "
    "fine-tuned classifier's own test top-1 is in finetune.json of that run's --out_dir. "
)


def probe(
    ckpt: str,
    data: ImageDataModule | None = None,
    root: str | None = None,
    max_iter: int = ProbeRecipe.max_iter,
    knn_k: int = KNN_K,
    device: str = "auto",
    batch_size: int = 1024,
    baselines: bool = True,
    out_dir: str | None = None,
    representations: list[str] | None = None,
    weights_only: bool = True,
    solver: Literal["lbfgs", "sgd"] = "lbfgs",
    epochs: int = SGDProbeRecipe.epochs,
    lr: float = SGDProbeRecipe.lr,
    crop_scale: tuple[float, float] = SGDProbeRecipe.crop_scale,
) -> Path:
    """Linear and kNN probes of every representation of a checkpoint: h, each head layer, z, a random
    encoder of the same architecture (random_h) and raw pixels; prints the table and writes `probe.md`,
    `probe.json` and `diagnostics.json` next to the checkpoint. Of a fine-tuned checkpoint, the frozen
    fine-tuned encoder's h is probed (with the baselines; no diagnostics).

    Args:
        ckpt: checkpoint written by `simclr fit`, or by `simclr finetune` / `simclr distill`.
        data: the labelled data (class_path/init_args); default: the data module the checkpoint was trained on.
        root: override the data root of the checkpoint's data module (data moved since pretraining).
        max_iter: L-BFGS iterations of each linear probe (same recipe for every representation).
        knn_k: neighbours of the kNN classifier.
        device: "cpu", "cuda" or "auto" (CUDA when available).
        batch_size: images per feature-extraction batch.
        baselines: also probe a random encoder of the same architecture (random_h) and raw pixels.
        out_dir: where to write the report; default: the checkpoint's folder.
        representations: which of h, head_1, ..., z to probe, e.g. [h, z]; default: all the checkpoint has.
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
        solver: lbfgs (features of the whole split in memory, exact) or sgd (augmented crops streamed through the
            frozen encoder for --epochs, SGD with Nesterov momentum and a cosine schedule, --batch_size images per
            step; scales to any dataset size, no kNN or diagnostics: they need all features in memory).
        epochs: passes of the sgd solver over the training split (only with --solver sgd).
        lr: peak learning rate of the sgd solver (only with --solver sgd).
        crop_scale: area range of the sgd solver's random resized crops, e.g. [0.08, 1] (the paper's ImageNet
            protocol); default [1, 1], flip only (only with --solver sgd).
    """
    for name, value in (("max_iter", max_iter), ("knn_k", knn_k), ("batch_size", batch_size)):
        if value < 1:
            raise UserError(
                f"--{name} {value} is below 1; pass --{name} 1 or more (default {ProbeRecipe.max_iter if name == 'max_iter' else KNN_K if name == 'knn_k' else 1024})"
            )
    sgd_only = {"epochs": epochs != SGDProbeRecipe.epochs, "lr": lr != SGDProbeRecipe.lr,
                "crop_scale": tuple(crop_scale) != SGDProbeRecipe.crop_scale}  # fmt: skip
    lbfgs_only = {"max_iter": max_iter != ProbeRecipe.max_iter, "knn_k": knn_k != KNN_K}
    unused = [k for k, given in (lbfgs_only if solver == "sgd" else sgd_only).items() if given]
    if unused:
        other = "lbfgs" if solver == "sgd" else "sgd"
        raise UserError(
            f"--{unused[0]} sets the {other} solver, but --solver is {solver}; add --solver {other} or drop --{unused[0]}"
        )
    dev = resolve_device(device)
    out = writable_folder(out_dir if out_dir else Path(ckpt).parent, "--out_dir")  # before the expensive work
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    checkpoint = read_checkpoint_file(ckpt, weights_only)
    tuned = is_finetuned(checkpoint)
    if tuned:  # the encoder fine-tuned by `simclr finetune` / `simclr distill`, frozen: h only
        model = load_finetuned(ckpt, map_location=dev, weights_only=weights_only)
        representations = finetuned_representations(representations, ckpt)
    else:
        model = load_pretrained(ckpt, map_location=dev, weights_only=weights_only)
        representations = check_representations(model, representations, ckpt)
    if data is None:
        data = finetuned_datamodule(checkpoint, ckpt, root) if tuned else load_datamodule(ckpt, root, weights_only)
    elif root:
        data.root = root
    check_classes(data)
    if solver == "sgd":
        return sgd_probe_report(
            model,
            data,
            ckpt,
            out,
            dev,
            batch_size,
            baselines,
            representations,
            SGDProbeRecipe(epochs, lr, crop_scale=tuple(crop_scale)),
        )
    start = time.perf_counter()
    test_outputs: dict[str, torch.Tensor] = {}  # test h, labels and the h probe's predictions, for TensorBoard
    rows, diagnostics = evaluate_checkpoint(
        model,
        data,
        recipe=ProbeRecipe(max_iter=max_iter),
        knn_k=knn_k,
        device=dev,
        batch_size=batch_size,
        pixels=baselines,
        random_baseline=baselines,
        diagnostics=not tuned,  # alignment and uniformity need the pretraining views
        representations=representations,
        test_outputs=test_outputs,
    )
    seconds = time.perf_counter() - start
    header = (
        f"# Probe of {ckpt}\n\n{FINETUNED_NOTE if tuned else ''}Test set: {data.test_set_description()}. "
        f"Linear probe: frozen z-scored features, full-batch L-BFGS in PCA-whitened coordinates up to "
        f"{ProbeRecipe.whiten_max_dim} dims ({max_iter} iterations, L2 {ProbeRecipe().weight_decay} on the z-scored weights); kNN: cosine, k={knn_k}. "
        f"Took {seconds:.0f} s on {dev}.\n\n"
    )
    if tuned:
        print(FINETUNED_NOTE.strip())
    print(f"test set: {data.test_set_description()}")
    md, js = write_report(rows, out, diagnostics=diagnostics, header=header)
    log_to_tensorboard(rows, diagnostics, out / "probe", test_outputs, data.num_classes)
    print(format_table(rows))
    print(f"wrote {md} and {js}")
    return js


def sgd_probe_report(
    model,
    data: ImageDataModule,
    ckpt: str,
    out: Path,
    dev: torch.device,
    batch_size: int,
    baselines: bool,
    representations: list[str],
    recipe: SGDProbeRecipe,
) -> Path:
    """`probe --solver sgd`: streamed SGD probes, written as probe.md / probe.json (kNN column empty)."""
    start = time.perf_counter()
    rows = evaluate_with_sgd(model, data, recipe, dev, batch_size, representations, baselines)
    header = (
        f"# Probe of {ckpt}\n\nTest set: {data.test_set_description()}. Linear probe: frozen encoder, augmented crops "
        f"streamed through it, SGD (Nesterov momentum {recipe.momentum}, cosine schedule from lr {recipe.lr}) for "
        f"{recipe.epochs} epochs at batch size {batch_size}; no kNN. Took {time.perf_counter() - start:.0f} s on {dev}.\n\n"
    )
    print(f"test set: {data.test_set_description()}")
    md, js = write_report(rows, out, header=header)
    log_to_tensorboard(rows, {}, out / "probe")
    print(format_table(rows))
    print(f"wrote {md} and {js}")
    return js


def finetuned_representations(wanted: list[str] | None, ckpt: str) -> list[str]:
    """["h"]: a fine-tuned checkpoint is probed on its encoder's output; a one-line UserError for any other."""
    other = [name for name in wanted or [] if name != "h"]
    if other:
        raise UserError(
            f"checkpoint {ckpt} is a `simclr finetune` checkpoint, whose fine-tuned encoder is probed on h only, so "
            f"it has no {other[0]!r} to probe; pass --representations '[h]' (its classifier's own test top-1 is in "
            f"finetune.json of its --out_dir)"
        )
    return ["h"]


def check_classes(data: ImageDataModule) -> None:
    """A one-line UserError for labelled data with fewer than 2 classes (no classifier can be probed on it)."""
    if data.num_classes < 2:
        if isinstance(data, WithoutLabels):
            data.labelled_dataset("test")  # images without labels and no labelled set: says so in its own words
        names = list(getattr(data, "classes", None) or [])
        which = f" ({names[0]})" if names else ""
        raise UserError(
            f"the data at {Path(data.root).absolute()} has {data.num_classes} class{which}; a probe needs 2 or more: "
            f"pass --root (or --data.init_args.root) with one sub-folder of images per class"
        )


def log_to_tensorboard(
    rows: list, diagnostics: dict, log_dir: Path, test_outputs: dict | None = None, num_classes: int | None = None
) -> None:
    """Probe accuracies, alignment / uniformity / RankMe and the singular value spectra as TensorBoard
    scalars (`tensorboard --logdir <run>` shows them next to the pretraining curves); with `test_outputs`
    (see `evaluate_checkpoint`) and `num_classes`, also the spectrum plot, the h probe's confusion matrix and
    h of the first test images in the embedding projector (`simclr.eval.figures.log_probe_views`)."""
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
        if test_outputs is not None and num_classes is not None:
            log_probe_views(writer, diagnostics, test_outputs, num_classes)
