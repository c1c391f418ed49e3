"""JPEG decoding to a fixed uint8 square through a DataLoader (images/s), two ways:

- ours: a Dataset calling `simclr.data.decode.decode_framed` (centre 4:3 frame, antialiased resize; a JPEG
  whose frame is at least twice the target decoded at 1/2, 1/4 or 1/8 scale by libjpeg);
- torchvision: `torchvision.datasets.ImageFolder` (its Pillow loader) with `transforms.Resize(size)`,
  `CenterCrop(size)` and `PILToTensor()`, the usual per-sample pipeline. It keeps the centre square where
  ours keeps the centre 4:3, so the two outputs differ by design; both are uint8 (3, size, size).

Sources: --images JPEGs per source size (default 500x375, the commonest ImageNet size, and 1024x768),
photo-like content (a smooth bicubic colour field plus Gaussian noise, std --noise grey levels),
quality 90, written to a temporary folder; their mean file size is recorded. One timed window is
--iters full passes over one source size's images in batches of --batch, with --workers persistent
workers, each batch copied to --device; the two methods take turns window by window, so load from
other processes hits both alike. The figure is the median window, as images / second; ours_speedup is
ours' images/s over the row's.

    python benchmarks/decode_throughput.py --images 400 --workers 2                                # 2 CPU cores
    python benchmarks/decode_throughput.py --images 6 --sources 64x48 --targets 16 --workers 0 --repeats 1  # tiny
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torchvision.transforms as T
from common import add_timing_arguments, median, pick_device, print_table, time_windows, write_json
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder
from torchvision.io import encode_jpeg, write_file

from simclr.data.decode import decode_framed, draft_scale

METHODS = ("ours", "torchvision")
QUALITY = 90  # JPEG quality of the generated sources


def parse_source(text: str) -> tuple[int, int]:
    """`1024x768` -> (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1024x768, got {text!r}") from None
    return width, height


def photo(width: int, height: int, noise: float, gen: torch.Generator) -> torch.Tensor:
    """uint8 (3, height, width): a bicubic colour field through 6 x 8 random points plus Gaussian noise."""
    field = torch.rand(1, 3, 6, 8, generator=gen) * 255  # (1, 3, 6, 8)
    image = torch.nn.functional.interpolate(field, size=(height, width), mode="bicubic", align_corners=False)[0]
    return (image + noise * torch.randn(3, height, width, generator=gen)).clamp(0, 255).round().to(torch.uint8)


def write_photos(folder: Path, n: int, width: int, height: int, noise: float, seed: int) -> list[Path]:
    """Writes `folder/photos/00000.jpg ...` (one ImageFolder class) and returns the paths."""
    (folder / "photos").mkdir(parents=True)
    gen = torch.Generator().manual_seed(seed)
    paths = [folder / "photos" / f"{i:05d}.jpg" for i in range(n)]
    for path in paths:
        write_file(str(path), encode_jpeg(photo(width, height, noise, gen), quality=QUALITY))
    return paths


class FramedFiles(Dataset):
    """Image files -> (uint8 (3, size, size) from `decode_framed`, label 0), like ImageFolder's (image, class)."""

    def __init__(self, paths: list[Path], size: int):
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return decode_framed(self.paths[i], self.size), 0


def make_loader(method: str, folder: Path, paths: list[Path], size: int, args, device: torch.device) -> DataLoader:
    if method == "ours":
        dataset = FramedFiles(paths, size)
    else:
        dataset = ImageFolder(str(folder), transform=T.Compose([T.Resize(size), T.CenterCrop(size), T.PILToTensor()]))
    return DataLoader(dataset, batch_size=args.batch, num_workers=args.workers, pin_memory=device.type == "cuda",
                      persistent_workers=args.workers > 0)  # fmt: skip


def one_pass(loader: DataLoader, device: torch.device) -> None:
    for images, _ in loader:
        assert images.dtype == torch.uint8
        images.to(device, non_blocking=True)


def measure(width: int, height: int, size: int, folder: Path, paths: list[Path], args, device) -> list[dict]:
    """Times every method on one (source size, target size), window by window in turns."""
    loaders = {m: make_loader(m, folder, paths, size, args, device) for m in args.methods}
    times: dict[str, list[float]] = {m: [] for m in loaders}
    for _ in range(args.warmup + args.repeats):  # the first windows also start the persistent workers
        for method, loader in loaders.items():
            times[method] += time_windows(lambda: one_pass(loader, device), device, args.iters, 1, 0)
    kib = sum(p.stat().st_size for p in paths) / len(paths) / 1024
    rows = []
    for method in args.methods:
        seconds = median(times[method][args.warmup :])
        rows.append({"source": f"{width}x{height}", "target": size, "method": method, "images": len(paths),
                     "batch": args.batch, "workers": args.workers, "mean_file_kib": kib,
                     "draft_scale": draft_scale(width, height, size) if method == "ours" else None,
                     "images_per_s": len(paths) / seconds, "median_s_per_pass": seconds,
                     "times_s": times[method][args.warmup :]})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=parse_source, nargs="+", default=[(500, 375), (1024, 768)],
                        help="source sizes WIDTHxHEIGHT")  # fmt: skip
    parser.add_argument("--targets", type=int, nargs="+", default=[96, 224], help="sides of the output squares")
    parser.add_argument("--images", type=int, default=400, help="JPEGs per source size")
    parser.add_argument("--noise", type=float, default=6.0, help="std of the sources' noise, in grey levels")
    parser.add_argument("--batch", type=int, default=32, help="images per batch")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    add_timing_arguments(parser, iters=1, warmup=1, out="benchmarks/results/cpu/decode_throughput.json",
                         unit="full passes over the images")  # fmt: skip
    parser.set_defaults(device="cpu")  # decoding runs on the CPU; another device only receives the batches
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    rows = []
    with tempfile.TemporaryDirectory(prefix="decode_throughput_") as tmp:
        for k, (width, height) in enumerate(args.sources):
            folder = Path(tmp) / f"{width}x{height}"
            paths = write_photos(folder, args.images, width, height, args.noise, seed=k)
            for size in args.targets:
                rows += measure(width, height, size, folder, paths, args, device)
    for row in rows:
        ours = next((r for r in rows if r["method"] == "ours" and (r["source"], r["target"]) == (row["source"], row["target"])), None)  # fmt: skip
        row["ours_speedup"] = ours["images_per_s"] / row["images_per_s"] if ours else None
    columns = ["source", "target", "method", "draft_scale", "workers", "images_per_s", "median_s_per_pass",
               "ours_speedup"]  # fmt: skip
    print_table(rows, columns)
    settings = {**vars(args), "sources": [f"{w}x{h}" for w, h in args.sources], "quality": QUALITY}
    write_json(args.out, "decode_throughput", device, settings, rows)
    return rows


if __name__ == "__main__":
    main()
