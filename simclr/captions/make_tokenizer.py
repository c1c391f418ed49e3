"""`simclr tokenizer`: trains a BPE tokenizer on the captions of your manifest (`simclr.captions.tokenizer`).

    simclr tokenizer --manifest /data/pairs/train.csv                  # writes /data/pairs/tokenizer.json
    simclr tokenizer --manifest pairs.jsonl --out tok.json --vocab_size 16384

Pass the training manifest: the tokenizer then sees no validation caption from a `val_manifest` (with
`val_fraction`, the held-out images' captions are in the manifest and are read too).
"""

from __future__ import annotations

from pathlib import Path

from simclr.captions.manifest import read_manifest
from simclr.captions.tokenizer import train_tokenizer
from simclr.errors import UserError


def tokenizer(
    manifest: str,
    out: str | None = None,
    vocab_size: int = 8192,
    image_column: str = "image",
    caption_column: str = "caption",
    overwrite: bool = False,
) -> Path:
    """Train a byte-level BPE tokenizer on the captions of a manifest; returns the tokenizer.json written.

    Args:
        manifest: a .csv, .tsv or .jsonl manifest of images and captions.
        out: the tokenizer.json to write; default tokenizer.json beside the manifest (where the caption data
            modules look for it).
        vocab_size: the most tokens (256 byte tokens and 3 special tokens included).
        image_column: the column / JSON key holding the image path.
        caption_column: the column / JSON key holding the caption (in JSON lines also a list of captions).
        overwrite: replace an existing file at `out`.
    """
    listed = read_manifest(manifest, image_column, caption_column)
    path = Path(out) if out else Path(manifest).parent / "tokenizer.json"
    if path.exists() and not overwrite:
        raise UserError(f"{path} exists; pass --overwrite true to replace it, or another --out")
    captions = [caption for image_captions in listed.captions for caption in image_captions]
    trained = train_tokenizer(captions, path, vocab_size)
    print(f"trained a {trained.vocab_size}-token BPE on the {len(captions)} captions of {manifest}; wrote {path}")
    return path
