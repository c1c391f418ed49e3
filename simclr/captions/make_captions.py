"""`simclr captions`: writes the Fashion-MNIST caption set (`simclr.captions.fashion_mnist`): images, a
train and a validation manifest, a tokenizer trained on the training captions, class names and zero-shot
prompts.

    simclr captions --out_dir data/fashion_mnist_captions
    simclr captions --out_dir data/fm_tiny --train_images 2000 --val_images 500
"""

from __future__ import annotations

from pathlib import Path

from simclr.captions.fashion_mnist import FASHION_MNIST_ROOT, write_fashion_mnist_captions


def captions(
    out_dir: str = "fashion_mnist_captions",
    fm_root: str = FASHION_MNIST_ROOT,
    train_images: int = 20000,
    val_images: int = 2000,
    captions_per_image: int = 5,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write the Fashion-MNIST caption set into `out_dir`; returns `out_dir`.

    Args:
        out_dir: folder for images/, train.jsonl, val.jsonl, tokenizer.json, classes.txt, prompts.txt, README.md.
        fm_root: the Fashion-MNIST idx files.
        train_images: training images, from the start of the Fashion-MNIST train split.
        val_images: validation images, from the end of the train split (never trained on).
        captions_per_image: captions per image, each from a different template.
        seed: seed of the caption draws.
        overwrite: replace a caption set already in `out_dir`.
    """
    out = write_fashion_mnist_captions(fm_root, out_dir, train_images, val_images, captions_per_image, seed, overwrite)
    print(
        f"wrote {train_images} training and {val_images} validation images, {captions_per_image} captions each, "
        f"to {out} (train.jsonl, val.jsonl, tokenizer.json, classes.txt, prompts.txt)"
    )
    return out
