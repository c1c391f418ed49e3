"""Zero-shot classification and image-text retrieval with a two-tower (CLIP-style) model.

CLIP (Radford et al. 2021), Section 3.1.4: the class names are turned into captions by prompt templates
("a photo of a {label}."), and with several templates "we construct the ensemble over the embedding space
instead of probability space": each class's text embeddings are normalised, averaged and normalised again.
An image is assigned the class whose text embedding is the most similar (cosine) to its image embedding.

Everything here takes a model with `encode_image(normalised float images) -> (B, D)` and
`encode_text(tokens) -> (B, D)`, both unit-norm (`simclr.methods.ImageText`), and a tokenizer with
`encode(list[str]) -> (N, L)` (`simclr.captions.CaptionTokenizer`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from simclr.data.datasets import collate_batch
from simclr.errors import UserError
from simclr.losses.retrieval import retrieval_recall

RECALL_AT = (1, 5, 10)


def read_lines(path: str | Path, what: str) -> list[str]:
    """The non-empty lines of a text file (class names, prompt templates); a one-line UserError if there are none."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{what} file {file} does not exist; pass a text file with one entry per line")
    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise UserError(f"{what} file {file} has no non-empty line; write one entry per line")
    return lines


def check_templates(templates: list[str]) -> None:
    """Each prompt template must hold exactly one `{}` where the class name goes."""
    for template in templates:
        if template.count("{}") != 1:
            raise UserError(
                f"prompt template {template!r} must contain exactly one {{}} for the class name, "
                f'e.g. "a photo of a {{}}."'
            )


@torch.inference_mode()
def class_embeddings(
    encode_text: Callable[[Tensor], Tensor],
    tokenizer,
    class_names: list[str],
    templates: list[str],
    device: torch.device,
) -> Tensor:
    """The zero-shot classifier: one unit text embedding per class, averaged over the prompt templates.

    Args:
        encode_text: tokens int64 (N, L) -> unit embeddings (N, D).
        tokenizer: `encode(list[str], where) -> (N, L)`.
        class_names: K names.
        templates: T templates, each with one `{}`.
        device: where `encode_text` runs.

    Returns:
        (K, D) float32 unit rows.
    """
    check_templates(templates)
    prompts = [template.format(name) for name in class_names for template in templates]  # (K T,) class-major
    tokens = tokenizer.encode(prompts, where=[f"prompt {p!r}" for p in prompts]).to(device)
    text = encode_text(tokens).float().unflatten(0, (len(class_names), len(templates)))  # (K, T, D)
    return F.normalize(F.normalize(text, dim=-1).mean(dim=1), dim=-1)


@torch.inference_mode()
def image_embeddings(
    encode_image: Callable[[Tensor], Tensor],
    normalise: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Unit image embeddings of every batch of (uint8 images (B, C, H, W), second item (B, ...)), in order.

    Returns:
        (N, D) float32 embeddings on the CPU, and the batches' second items concatenated (labels or tokens).
    """
    features, others = [], []
    for images, other in batches:
        x = normalise(images.to(device))  # the evaluation view: uint8 -> normalised float
        features.append(encode_image(x).float().cpu())
        others.append(other)
    if not features:
        raise UserError("the evaluation set is empty; pass a data module whose split holds images")
    return torch.cat(features), torch.cat(others)


def zero_shot_top1(image: Tensor, labels: Tensor, classes: Tensor) -> tuple[float, Tensor]:
    """Top-1 accuracy of the nearest class embedding.

    Args:
        image: (N, D) unit image embeddings.
        labels: (N,) int64 true classes in [0, K).
        classes: (K, D) unit class embeddings (`class_embeddings`).

    Returns:
        (accuracy in [0, 1], (K,) float32 accuracy per class, NaN for a class without images).
    """
    predicted = (image @ classes.T).argmax(dim=1)  # (N,)
    correct = (predicted == labels).float()
    k = classes.shape[0]
    per_class = torch.zeros(k).index_add_(0, labels, correct) / torch.bincount(labels, minlength=k).float()
    return correct.mean().item(), per_class


def labelled_batches(dataset: Dataset, batch_size: int) -> DataLoader:
    """(uint8 images, labels) batches of a labelled split, in order, in the main process."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_batch)


@torch.inference_mode()
def pair_retrieval(
    model, normalise: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], device: torch.device
) -> dict[str, float]:
    """Image-to-text and text-to-image recall@1/5/10 over (uint8 images, tokens) pairs (pair i matches i).

    Returns:
        {"i2t_r1": ..., "t2i_r10": ..., "pairs": N}, recalls in [0, 1].
    """
    image, tokens = image_embeddings(model.encode_image, normalise, batches, device)
    text = torch.cat([model.encode_text(t.to(device)).float().cpu() for t in tokens.split(1024)])
    recall = {name: float(value) for name, value in retrieval_recall(image, text, RECALL_AT).items()}
    return {**recall, "pairs": image.shape[0]}
