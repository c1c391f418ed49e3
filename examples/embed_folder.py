"""Load a checkpoint and embed every image of a folder: one row of h (or z) per image, for search and
de-duplication.

    python examples/embed_folder.py runs/demo/checkpoints/last.ckpt photos/ --out embeddings.pt

The images are decoded to uint8, resized and centre-cropped to the size the encoder was trained on,
and embedded in batches; `embeddings.pt` holds {"paths": [...], "embeddings": (N, D) float32}, and the
nearest neighbour of the first image is printed as a check.
"""

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import center_crop, resize

import simclr
from simclr.data.decode import decode_rgb

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}


def load_images(folder: Path, size: int, channels: int) -> tuple[list[Path], torch.Tensor]:
    """Every image under `folder` (recursive, sorted) as uint8 (N, channels, size, size)."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not paths:
        raise SystemExit(f"no images ({', '.join(sorted(SUFFIXES))}) under {folder}")
    images = []
    for path in paths:
        image = center_crop(resize(decode_rgb(path), size, antialias=True), [size, size])  # (3, size, size)
        images.append(image.float().mean(0, keepdim=True).round().to(torch.uint8) if channels == 1 else image)
    return paths, torch.stack(images)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt", help="a checkpoint of simclr fit, finetune or distill")
    p.add_argument("folder", type=Path, help="a folder of images (any nesting)")
    p.add_argument("--representation", default="h", help="h, head_1, ... or z")
    p.add_argument("--out", type=Path, default=Path("embeddings.pt"))
    args = p.parse_args()

    model = simclr.load(args.ckpt).to("cuda" if torch.cuda.is_available() else "cpu")
    data = model.datamodule()  # the data module it was trained on: image size and channels
    paths, images = load_images(args.folder, data.image_size, data.channels)
    embeddings = model.embed(images, args.representation).cpu()  # (N, D)
    torch.save({"paths": [str(p) for p in paths], "embeddings": embeddings}, args.out)
    print(f"{len(paths)} images -> {tuple(embeddings.shape)} {args.representation} in {args.out}")
    if len(paths) > 1:
        sim = F.normalize(embeddings, dim=1) @ F.normalize(embeddings[:1], dim=1).T  # (N, 1) cosine to the first
        nearest = int(sim[1:].argmax()) + 1
        print(f"nearest to {paths[0].name}: {paths[nearest].name} (cosine {float(sim[nearest]):.3f})")


if __name__ == "__main__":
    main()
