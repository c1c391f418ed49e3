"""Augmentation throughput (views/s) of each SimCLR preset, three ways:

- fast: the preset on our sync-free ops (`backend="fast"`, the default) in `MultiView`, uint8 batch on the device;
- kornia: the same preset on stock kornia.augmentation modules (`backend="kornia"`), same place, same call;
- torchvision: the same recipe as per-sample `torchvision.transforms.v2` in DataLoader workers (what most
  SimCLR code does), two views per image, batches pinned and copied to the device. Images are uint8 tensors
  in memory, so JPEG decoding, which that pipeline also pays for, is left out (in its favour).

Presets (augmentations.presets): simclr_fashion_mnist (1 channel, 28 px, crop scale 0.2-1, jitter 0.4 p=0.8),
simclr_cifar (32 px, crop + flip, jitter 0.4 p=0.8, grayscale p=0.2), simclr_imagenet (--imagenet_size,
default 224 px from 256 px sources, plus blur p=0.5 with a kernel ~10% of the size). Each ends with
normalisation.

    python benchmarks/augment_throughput.py --batch 512 --workers 16                    # a GPU machine
    python benchmarks/augment_throughput.py --presets simclr_cifar --batch 16 --repeats 1 --warmup 0  # tiny
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision.transforms.v2 as T
from common import add_timing_arguments, median, pick_device, print_table, time_windows, write_json
from torch.utils.data import DataLoader, Dataset

from augmentations import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MultiView,
    ViewPipeline,
    blur_kernel_size,
    simclr_cifar,
    simclr_fashion_mnist,
    simclr_imagenet,
)

METHODS = ("fast", "kornia", "torchvision")


@dataclass
class Recipe:
    """One preset: its pipeline builder, image shape and the torchvision equivalent."""

    build: Callable[..., ViewPipeline]  # build(size, backend=...) -> ViewPipeline
    channels: int
    size: int  # view side in pixels
    source: int  # side of the uint8 source images
    torchvision: Callable[[int], T.Compose]


def torchvision_recipe(size: int, scale: tuple, jitter: float, gray: float, blur: bool, mean, std) -> T.Compose:
    """The presets' recipe as per-sample torchvision v2 transforms on uint8 images."""
    s = jitter
    steps = [T.RandomResizedCrop(size, scale=scale, antialias=True), T.RandomHorizontalFlip()]
    steps.append(T.RandomApply([T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8))
    steps += [T.RandomGrayscale(p=gray)] if gray else []
    steps += [T.RandomApply([T.GaussianBlur(blur_kernel_size(size), (0.1, 2.0))], p=0.5)] if blur else []
    return T.Compose([*steps, T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std)])


def recipes(imagenet_size: int) -> dict[str, Recipe]:
    """The presets the script can time, by the name of their function in augmentations.presets."""
    fm = lambda size: torchvision_recipe(size, (0.2, 1.0), 0.5, 0.0, False, FASHION_MNIST_MEAN, FASHION_MNIST_STD)  # noqa: E731
    cifar = lambda size: torchvision_recipe(size, (0.08, 1.0), 0.5, 0.2, False, CIFAR10_MEAN, CIFAR10_STD)  # noqa: E731
    inet = lambda size: torchvision_recipe(size, (0.08, 1.0), 1.0, 0.2, True, IMAGENET_MEAN, IMAGENET_STD)  # noqa: E731
    source = 32 if imagenet_size <= 32 else 256
    return {
        "simclr_fashion_mnist": Recipe(lambda size, backend: simclr_fashion_mnist(size, backend=backend), 1, 28, 28, fm),
        "simclr_cifar": Recipe(lambda size, backend: simclr_cifar(size, backend=backend), 3, 32, 32, cifar),
        "simclr_imagenet": Recipe(lambda size, backend: simclr_imagenet(size, backend=backend), 3, imagenet_size, source, inet),
    }  # fmt: skip


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


def make_step(method: str, recipe: Recipe, args, device: torch.device):
    """A function that makes one batch of two views per image with `method`."""
    batch, shape = args.batch, (recipe.channels, recipe.source, recipe.source)
    if method == "torchvision":
        n = batch * (loader_iters(args) * (args.repeats + args.warmup) + 2 + 2 * args.workers)  # every batch, prefetch
        images = torch.randint(0, 256, (min(n, 4 * batch), *shape), dtype=torch.uint8)
        dataset = TwoViews(images, recipe.torchvision(recipe.size), n)
        loader = DataLoader(dataset, batch_size=batch, num_workers=args.workers, pin_memory=device.type == "cuda",
                            persistent_workers=args.workers > 0, drop_last=True)  # fmt: skip
        batches = iter(loader)

        def step():
            a, b = next(batches)
            return a.to(device, non_blocking=True), b.to(device, non_blocking=True)

        return step
    images = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, device=device)
    views = MultiView(recipe.build(recipe.size, backend=method), n_views=2).to(device)
    return lambda: views(images)


def measure(name: str, recipe: Recipe, args, device: torch.device) -> list[dict]:
    """Times every method on one preset. The on-device methods are timed in turns, window by window, so
    load from other processes hits them alike; torchvision's workers run alone (they prefetch, and they
    would compete for the CPU while the others are timed)."""
    steps = {m: make_step(m, recipe, args, device) for m in args.methods if m != "torchvision"}
    times: dict[str, list[float]] = {m: [] for m in steps}
    for _ in range(args.warmup + args.repeats):
        for method, step in steps.items():
            times[method] += time_windows(step, device, args.iters, 1, 0)
    times = {m: t[args.warmup :] for m, t in times.items()}
    if "torchvision" in args.methods:
        step = make_step("torchvision", recipe, args, device)
        times["torchvision"] = time_windows(step, device, loader_iters(args), args.repeats, args.warmup)
    rows = []
    for method in args.methods:
        seconds = median(times[method])
        rows.append({"preset": name, "method": method, "image_size": recipe.size, "source_size": recipe.source,
                     "channels": recipe.channels, "batch": args.batch, "views_per_batch": 2 * args.batch,
                     "workers": args.workers if method == "torchvision" else 0, "median_s_per_batch": seconds,
                     "views_per_s": 2 * args.batch / seconds, "times_s": times[method]})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", choices=list(recipes(224)), default=list(recipes(224)))
    parser.add_argument("--imagenet_size", type=int, default=224, help="view side of simclr_imagenet (sources 256 px)")
    parser.add_argument("--batch", type=int, default=256, help="images per batch (2 views each)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--workers", type=int, default=16, help="DataLoader workers for the torchvision pipeline")
    add_timing_arguments(parser, iters=5, warmup=1, out="benchmarks/results/augment_throughput.json", unit="batches")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    torch.manual_seed(0)
    available = recipes(args.imagenet_size)
    rows = [row for name in args.presets for row in measure(name, available[name], args, device)]
    for row in rows:
        fast = next((r for r in rows if r["method"] == "fast" and r["preset"] == row["preset"]), None)
        row["fast_speedup"] = fast["views_per_s"] / row["views_per_s"] if fast else None
    columns = [
        "preset",
        "method",
        "image_size",
        "batch",
        "workers",
        "views_per_s",
        "median_s_per_batch",
        "fast_speedup",
    ]
    print_table(rows, columns)
    write_json(args.out, "augment_throughput", device, vars(args), rows)
    return rows


if __name__ == "__main__":
    main()
