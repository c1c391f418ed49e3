"""`simclr zeroshot`: zero-shot classification and image-text retrieval of a two-tower checkpoint.

    simclr zeroshot --ckpt runs/clip/checkpoints/last.ckpt --data fashion_mnist_test.yaml \
        --classes data/fashion_mnist_captions/classes.txt --prompts data/fashion_mnist_captions/prompts.txt

Writes zeroshot.md and zeroshot.json (and TensorBoard scalars under tensorboard/) into --out_dir, by default
the checkpoint's run folder.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from simclr.captions.tokenizer import CaptionTokenizer
from simclr.data.base import ImageDataModule
from simclr.devices import resolve_device
from simclr.errors import UserError
from simclr.eval.zeroshot import (
    class_embeddings,
    image_embeddings,
    labelled_batches,
    pair_retrieval,
    read_lines,
    zero_shot_top1,
)
from simclr.loading.pretrained import load_datamodule, load_pretrained
from simclr.safety.run_folder import writable_folder
from simclr.safety.safe_loading import read_checkpoint_file

log = logging.getLogger(__name__)
DEFAULT_TEMPLATE = "a photo of a {}."  # CLIP's default prompt


def checkpoint_tokenizer(ckpt: str, weights_only: bool) -> CaptionTokenizer:
    """The caption tokenizer an image-text checkpoint carries (saved by `simclr fit` from its data module)."""
    saved = read_checkpoint_file(ckpt, weights_only).get("tokenizer")
    if not isinstance(saved, dict) or not isinstance(saved.get("json"), str):
        raise UserError(
            f"{ckpt} carries no caption tokenizer, so text cannot be encoded; zero-shot needs a two-tower checkpoint "
            f"written by `simclr fit --config clip_fashion_mnist` (or another image-text config)"
        )
    return CaptionTokenizer.from_json(saved["json"], int(saved["context_length"]), source=f"the tokenizer in {ckpt}")


def class_names_of(data: ImageDataModule, classes: str | None) -> list[str]:
    """The class names from `classes` (a file, one name per line) or the data module's `class_names`."""
    if classes is not None:
        return read_lines(classes, "--classes")
    names = getattr(data, "class_names", None) or getattr(data, "classes", None)
    if not names:
        raise UserError(
            f"{type(data).__name__} does not name its classes; pass --classes FILE with one class name per line, "
            f"in label order"
        )
    return list(names)


def format_report(result: dict) -> str:
    """Markdown: the zero-shot table (overall and per class) and the retrieval table."""
    lines = [f"# Zero-shot evaluation of {result['ckpt']}", "", result["description"], ""]
    if "top1" in result:
        lines += [f"Zero-shot top-1: **{100 * result['top1']:.2f}%** on {result['images']} images, "
                  f"{len(result['templates'])} prompt template(s) averaged.", "",
                  "| class | top-1 (%) |", "|---|---:|"]  # fmt: skip
        lines += [f"| {name} | {100 * acc:.2f} |" for name, acc in result["per_class"].items()]
        lines.append("")
    if "retrieval" in result:
        r = result["retrieval"]
        lines += [f"Retrieval on {r['pairs']} validation pairs (recall@k, %):", "",
                  "| direction | R@1 | R@5 | R@10 |", "|---|---:|---:|---:|",
                  f"| image -> text | {100 * r['i2t_r1']:.2f} | {100 * r['i2t_r5']:.2f} | {100 * r['i2t_r10']:.2f} |",
                  f"| text -> image | {100 * r['t2i_r1']:.2f} | {100 * r['t2i_r5']:.2f} | {100 * r['t2i_r10']:.2f} |",
                  ""]  # fmt: skip
    return "\n".join(lines)


def zeroshot(
    ckpt: str,
    data: ImageDataModule | None = None,
    classes: str | None = None,
    prompts: str | None = None,
    retrieval: bool = True,
    root: str | None = None,
    device: str = "auto",
    batch_size: int = 1024,
    out_dir: str | None = None,
    weights_only: bool = True,
) -> Path:
    """Zero-shot classification of a labelled image set and image-text retrieval on the checkpoint's validation
    pairs; prints the tables and writes zeroshot.md, zeroshot.json and TensorBoard scalars into out_dir.

    Args:
        ckpt: an image-text checkpoint of `simclr fit` (model `simclr.methods.ImageText`).
        data: the labelled images to classify (class_path/init_args), scored on their test split; none: only
            retrieval.
        classes: a text file of class names, one per line in label order; default: the data module's names.
        prompts: a text file of prompt templates, one per line, each with `{}` for the class name; several are
            averaged on the normalised text embeddings (CLIP's ensemble); default: "a photo of a {}.". Use
            templates that are not the training captions' for a zero-shot figure.
        retrieval: also score image -> text and text -> image recall@1/5/10 on the validation pairs of the
            checkpoint's own caption data.
        root: override the root of the checkpoint's caption data (data moved since training).
        device: "cpu", "cuda" or "auto" (CUDA when available).
        batch_size: images per batch.
        out_dir: where to write the report; default: the checkpoint's run folder.
        weights_only: false unpickles any object in the checkpoint, which can run code: only for a file you trust.
    """
    if batch_size < 1:
        raise UserError(f"--batch_size {batch_size} is below 1; pass a positive number of images (e.g. 1024)")
    if data is None and not retrieval:
        raise UserError("nothing to evaluate: pass --data (a labelled image set) or keep --retrieval true")
    started = time.time()
    dev = resolve_device(device)
    tokenizer = checkpoint_tokenizer(ckpt, weights_only)
    model = load_pretrained(ckpt, map_location=dev, weights_only=weights_only).eval()
    if not hasattr(model, "encode_text"):
        raise UserError(f"{ckpt} is a {type(model).__name__} checkpoint without a text tower; pass an image-text one")
    folder = writable_folder(Path(out_dir) if out_dir else Path(ckpt).resolve().parent.parent, "--out_dir")
    result: dict = {"ckpt": str(ckpt), "device": str(dev), "description": ""}
    descriptions = []
    if data is not None:
        names = class_names_of(data, classes)
        templates = read_lines(prompts, "--prompts") if prompts else [DEFAULT_TEMPLATE]
        test = data.labelled_dataset("test")
        image, labels = image_embeddings(model.encode_image, model.augment.normalise,
                                         labelled_batches(test, batch_size), dev)  # fmt: skip
        if int(labels.max()) >= len(names) or int(labels.min()) < 0:
            raise UserError(f"the labels run to {int(labels.max())} but --classes names {len(names)} classes; "
                            f"give one name per class, in label order")  # fmt: skip
        weights = class_embeddings(model.encode_text, tokenizer, names, templates, dev).cpu()
        top1, per_class = zero_shot_top1(image, labels, weights)
        result |= {"top1": top1, "images": image.shape[0], "templates": templates, "classes": names,
                   "per_class": dict(zip(names, per_class.tolist()))}  # fmt: skip
        descriptions.append(f"Classified: {data.test_set_description()}.")
    if retrieval:
        pairs = load_datamodule(ckpt, root, weights_only)
        pairs.prepare_data()
        pairs.setup("validate")
        result["retrieval"] = pair_retrieval(model, model.augment.normalise, pairs.val_dataloader(), dev)
        descriptions.append(f"Pairs: {pairs.validation_description()}.")
    result["description"] = " ".join(descriptions)
    result["seconds"] = round(time.time() - started, 1)
    report = format_report(result)
    (folder / "zeroshot.md").write_text(report, encoding="utf-8")
    (folder / "zeroshot.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    with SummaryWriter(str(folder / "tensorboard")) as writer:
        if "top1" in result:
            writer.add_scalar("zeroshot/top1", result["top1"], 0)
        for name, value in result.get("retrieval", {}).items():
            if name != "pairs":
                writer.add_scalar(f"zeroshot/{name}", value, 0)
    print(report)
    log.info("wrote %s", folder / "zeroshot.md")
    return folder / "zeroshot.md"
