"""End to end on your own kind of data: Fashion-MNIST's training images written as JPEG files of several sizes in
nested folders without class names, pretrained on as an unlabelled folder (`simclr.data.UnlabelledImages`),
then probed on the labelled Fashion-MNIST splits; against the same training on the in-memory data.

    python benchmarks/unlabelled_folder.py --seeds 0 1 --out benchmarks/results/cpu/unlabelled_folder.json

Both runs use `configs/fashion_mnist.yaml` with `configs/trainer/cpu_demo.yaml` (800 steps of 128 pairs) and
no online probe; the folder run reads 28 / 42 / 56 px JPEGs (quality 95) framed back to 28 px greyscale in 2
workers and holds out 2% of them for its validation loss (`--sides 28 --format png` writes the images
losslessly at their own size, which separates the pipeline from what JPEG and resizing do to the pixels). The probe is `simclr.probe_encoder` on h (L-BFGS
linear probe: the Fashion-MNIST train split, scored on the test split), as `simclr probe` runs it.

Noise rule: the two sources tie when their means differ by no more than twice the larger of their seed
ranges (max - min over seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import print_table, write_json
from torchvision.io import encode_jpeg, encode_png

import simclr
from simclr.data.readers import read_fashion_mnist

REPO = Path(__file__).resolve().parents[1]
SIDES = (28, 42, 56)


def write_folder(fm_root: str, folder: Path, images: int, sides: list[int], fmt: str) -> int:
    """The first `images` training images as greyscale files (`fmt`: jpeg, quality 95, or png) of the `sides`
    in turn, under folder/<a>/<b>/."""
    pixels = read_fashion_mnist(fm_root, train=True)[0][:images]  # (N, 1, 28, 28) uint8
    for i, image in enumerate(pixels):
        side = sides[i % len(sides)]
        if side != 28:
            image = F.interpolate(image[None].float(), size=(side, side), mode="bilinear", antialias=True)[0]
            image = image.round().clamp(0, 255).to(torch.uint8)
        path = folder / f"{i % 16:02d}" / f"{(i // 16) % 64:02d}" / f"{i:06d}.{'jpg' if fmt == 'jpeg' else 'png'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = encode_jpeg(image, quality=95) if fmt == "jpeg" else encode_png(image)
        path.write_bytes(data.numpy().tobytes())
    return len(pixels)


def fit_and_probe(source: str, seed: int, fm_root: str, folder: Path, run: Path, steps: int) -> dict:
    """One 800-step run on `source` ("folder" or "memory"), then the h probe on Fashion-MNIST."""
    args = ["fit", "--config", "fashion_mnist", "--config", "trainer/cpu_demo", "--seed_everything", str(seed),
            "--trainer.max_steps", str(steps), "--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(run), "--checkpoint.dirpath", str(run / "checkpoints")]  # fmt: skip
    if source == "folder":
        args += ["--data", "simclr.data.UnlabelledImages", "--data.init_args.root", str(folder),
                 "--data.init_args.image_size", "28", "--data.init_args.channels", "1",
                 "--data.init_args.batch_size", "128", "--data.init_args.num_workers", "2",
                 "--data.init_args.index_file", str(run / "folder.index")]  # fmt: skip
    else:
        args += ["--data.init_args.root", fm_root]
    start = time.perf_counter()
    cli = simclr.run_fit(args)
    fit_s = time.perf_counter() - start
    model = simclr.load(cli.trainer.checkpoint_callback.last_model_path)
    labelled = simclr.FashionMNIST(root=fm_root)
    labelled.setup("fit")
    rows = simclr.probe_encoder(model.encoder, labelled.labelled_dataset("train"), labelled.labelled_dataset("test"),
                                model.normalise, 10, representations=["h"], knn_on=())  # fmt: skip
    return {"source": source, "seed": seed, "steps": cli.trainer.global_step, "h_linear_top1": rows[0].linear_top1,
            "fit_s": round(fit_s, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fm-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--images", type=int, default=60000, help="training images written as JPEG files")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--sides", type=int, nargs="+", default=list(SIDES), help="image sides written, in turn")
    p.add_argument("--format", choices=["jpeg", "png"], default="jpeg")
    p.add_argument("--memory-from", type=Path, help="reuse the in-memory runs of an earlier JSON of this script")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/cpu/unlabelled_folder.json"))
    args = p.parse_args(argv)
    results = []
    if args.memory_from:  # the in-memory runs do not depend on the folder's format
        earlier = json.loads(args.memory_from.read_text())["results"]
        results = [r for r in earlier if r["source"] == "memory" and r["seed"] in args.seeds]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        start = time.perf_counter()
        written = write_folder(args.fm_root, folder, args.images, args.sides, args.format)
        print(f"wrote {written} JPEG files in {time.perf_counter() - start:.0f} s")
        for seed in args.seeds:
            for source in ("folder",) if args.memory_from else ("memory", "folder"):
                results.append(
                    fit_and_probe(source, seed, args.fm_root, folder, Path(tmp) / f"{source}{seed}", args.steps)
                )
                print(results[-1])
    summary = []
    for source in ("memory", "folder"):
        top1 = [r["h_linear_top1"] for r in results if r["source"] == source]
        summary.append({"source": source, "seeds": len(top1), "mean": statistics.mean(top1),
                        "range": max(top1) - min(top1)})  # fmt: skip
    gap = abs(summary[0]["mean"] - summary[1]["mean"])
    if min(s["seeds"] for s in summary) < 2:
        verdict = "no verdict (one seed has no range)"
    else:
        verdict = "tie" if gap <= 2 * max(s["range"] for s in summary) else "differ"
    print_table(results, ["source", "seed", "steps", "h_linear_top1", "fit_s"])
    print_table(summary, ["source", "seeds", "mean", "range"])
    print(f"difference of the means {gap:.4f}: {verdict} (noise rule: 2 x the larger seed range)")
    settings = {"images": written, "sides": args.sides, "format": args.format, "seeds": args.seeds, "steps": args.steps,
                "verdict": verdict, "gap": gap, "summary": summary}  # fmt: skip
    write_json(args.out, "unlabelled_folder", torch.device("cpu"), settings, results)
    return {"results": results, "summary": summary, "verdict": verdict}


if __name__ == "__main__":
    main()
