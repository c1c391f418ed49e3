"""Augmentation throughput (views/s) of the SimCLR view recipe, three ways:

- ours: `augmentations.presets.simclr_imagenet(size)` in `MultiView`, uint8 batch already on the device;
- kornia: stock `kornia.augmentation.AugmentationSequential` with the same transforms, on the device;
- torchvision: per-sample `torchvision.transforms.v2` in DataLoader workers (what most SimCLR code does),
  two views per image, batches pinned and copied to the device. Images are uint8 tensors in memory, so
  JPEG decoding, which that pipeline also pays for, is left out (in its favour).

The recipe at every size: random resized crop (scale 0.08-1) + flip, colour jitter (0.8, 0.8, 0.8, 0.2)
with p=0.8, grayscale p=0.2, Gaussian blur p=0.5 with sigma 0.1-2 and a kernel ~10% of the size, then
normalisation. Sources are random uint8 images of side --source (default: 32 for 32 px, 256 for 224 px).

    python benchmarks/augment_throughput.py --sizes 32 224 --batch 512 --workers 16        # a GPU machine
    python benchmarks/augment_throughput.py --sizes 32 --batch 16 --repeats 1 --warmup 0 --methods ours  # tiny
"""

from __future__ import annotations

import argparse

import torch
import torchvision.transforms.v2 as T
from common import add_timing_arguments, median, pick_device, print_table, time_windows, write_json
from torch.utils.data import DataLoader, Dataset

from augmentations import IMAGENET_MEAN, IMAGENET_STD, MultiView, blur_kernel_size, simclr_imagenet

METHODS = ("ours", "kornia", "torchvision")


def kornia_pipeline(size: int):
    import kornia.augmentation as K

    k = blur_kernel_size(size)
    return K.AugmentationSequential(
        K.RandomResizedCrop((size, size), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
        K.RandomHorizontalFlip(p=0.5),
        K.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur((k, k), (0.1, 2.0), p=0.5),
        K.Normalize(torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)),
    )


def torchvision_transform(size: int) -> T.Compose:
    k = blur_kernel_size(size)
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(k, (0.1, 2.0))], p=0.5),
        T.ToDtype(torch.float32, scale=True),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])  # fmt: skip


class TwoViews(Dataset):
    """Per-sample dataset: image i -> two independently transformed float views (torchvision style).

    `length` items cycle over the stored images (a large set without holding it in memory)."""

    def __init__(self, images: torch.Tensor, transform: T.Compose, length: int):
        self.images, self.transform, self.length = images, transform, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i % len(self.images)]
        return self.transform(image), self.transform(image)


def loader_iters(args) -> int:
    """Batches per timed window of the worker loader: at least 2 per worker, so a window measures the
    workers' steady rate, not batches they prefetched while the previous window was timed."""
    return max(args.iters, 2 * args.workers)


def make_step(method: str, size: int, source: int, args, device: torch.device):
    """A function that makes one batch of two views per image with `method`."""
    batch = args.batch
    if method == "torchvision":
        n = batch * (loader_iters(args) * (args.repeats + args.warmup) + 2 + 2 * args.workers)  # every batch, prefetch
        images = torch.randint(0, 256, (min(n, 4 * batch), 3, source, source), dtype=torch.uint8)
        loader = DataLoader(TwoViews(images, torchvision_transform(size), n), batch_size=batch, num_workers=args.workers,
                            pin_memory=device.type == "cuda", persistent_workers=args.workers > 0, drop_last=True)  # fmt: skip
        batches = iter(loader)

        def step():
            a, b = next(batches)
            return a.to(device, non_blocking=True), b.to(device, non_blocking=True)
    else:
        images = torch.randint(0, 256, (batch, 3, source, source), dtype=torch.uint8, device=device)
        if method == "ours":
            views = MultiView(simclr_imagenet(size), n_views=2).to(device)

            def step():
                return views(images)
        else:
            pipeline = kornia_pipeline(size).to(device)

            def step():
                x = images.float() / 255
                return pipeline(x), pipeline(x)

    return step


def measure_size(size: int, source: int, args, device: torch.device) -> list[dict]:
    """Times every method at one size. The on-device methods are timed in turns, window by window, so
    load from other processes hits them alike; torchvision's workers run alone (they prefetch, and they
    would compete for the CPU while the others are timed)."""
    steps = {m: make_step(m, size, source, args, device) for m in args.methods if m != "torchvision"}
    times: dict[str, list[float]] = {m: [] for m in steps}
    for _ in range(args.warmup + args.repeats):
        for method, step in steps.items():
            times[method] += time_windows(step, device, args.iters, 1, 0)
    times = {m: t[args.warmup :] for m, t in times.items()}
    if "torchvision" in args.methods:
        step = make_step("torchvision", size, source, args, device)
        times["torchvision"] = time_windows(step, device, loader_iters(args), args.repeats, args.warmup)
    rows = []
    for method in args.methods:
        seconds = median(times[method])
        rows.append({"method": method, "image_size": size, "source_size": source, "batch": args.batch, "views_per_batch": 2 * args.batch,
                     "workers": args.workers if method == "torchvision" else 0, "median_s_per_batch": seconds,
                     "views_per_s": 2 * args.batch / seconds, "times_s": times[method]})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224], help="output view sides in pixels")
    parser.add_argument(
        "--source", type=int, nargs="*", default=None, help="source side per size (default 32->32, else 256)"
    )
    parser.add_argument("--batch", type=int, default=256, help="images per batch (2 views each)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--workers", type=int, default=16, help="DataLoader workers for the torchvision pipeline")
    add_timing_arguments(parser, iters=5, warmup=1, out="benchmarks/results/augment_throughput.json", unit="batches")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    sources = args.source or [32 if s <= 32 else 256 for s in args.sizes]
    if len(sources) != len(args.sizes):
        parser.error(f"--source needs one side per size, got {sources} for sizes {args.sizes}")
    torch.manual_seed(0)
    rows = [row for size, source in zip(args.sizes, sources) for row in measure_size(size, source, args, device)]
    for row in rows:
        ours = next((r for r in rows if r["method"] == "ours" and r["image_size"] == row["image_size"]), None)
        row["ours_speedup"] = ours["views_per_s"] / row["views_per_s"] if ours else None
    print_table(rows, ["method", "image_size", "batch", "workers", "views_per_s", "median_s_per_batch", "ours_speedup"])
    write_json(args.out, "augment_throughput", device, vars(args) | {"sources": sources}, rows)
    return rows


if __name__ == "__main__":
    main()
