"""Image-text training on the embedded Fashion-MNIST caption set: CLIP, SigLIP, LiT and SLIP beside SimCLR.

    python benchmarks/image_text.py --seeds 0 1 2 --out benchmarks/results/cpu/image_text.json

For each seed: the SimCLR demo (`configs/fashion_mnist.yaml` + `configs/trainer/cpu_demo.yaml`, 800 steps of
128 pairs), then each image-text variant, `configs/clip_fashion_mnist.yaml` alone (CLIP) or with
`configs/image_text/{siglip,lit,slip}.yaml` stacked (LiT's locked image tower is that seed's SimCLR
checkpoint), trained on the caption set that `simclr captions` writes (20000 training images with 5
captions each, 2000 validation images; see its README.md). Every run is then scored the same way:

- zero-shot top-1 on the 10000 Fashion-MNIST test images, the class names of `classes.txt` in the 10 prompt
  templates of `prompts.txt` (none of them a training caption template), averaged (`simclr zeroshot`);
- image -> text and text -> image recall@1/5/10 on the 2000 validation pairs (first caption of each image);
- the linear probe of the image tower's h (the L-BFGS probe of `simclr probe`, Fashion-MNIST train -> test);
- throughput: training pairs per second of the whole fit (data, augmentation, both towers, optimiser).

SimCLR gets the probe and its throughput (its pairs are two views of one image, at the same encoder and batch).
One row per run goes to the JSON (`results`), with the seed, the steps and the wall time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import print_table, write_json
from image_text_page import PAGE, README, render_page, render_readme

import simclr
from simclr.ablation.run_data import environment
from simclr.captions import write_fashion_mnist_captions
from simclr.eval.zeroshot_checkpoint import zeroshot
from simclr.loading.pretrained import load_pretrained

VARIANTS = {  # name -> configs stacked on configs/clip_fashion_mnist.yaml
    "clip": [],
    "siglip": ["configs/image_text/siglip.yaml"],
    "lit": ["configs/image_text/lit.yaml"],
    "slip": ["configs/image_text/slip.yaml"],
}


def probe_h(ckpt: Path, fm_root: str) -> float:
    """Linear-probe top-1 of the image tower's h of a checkpoint on Fashion-MNIST (train -> test)."""
    model = load_pretrained(str(ckpt)).eval()
    labelled = simclr.FashionMNIST(root=fm_root)
    rows = simclr.probe_encoder(model.encoder, labelled.labelled_dataset("train"), labelled.labelled_dataset("test"),
                                model.augment.normalise, 10, representations=["h"], knn_on=())  # fmt: skip
    return rows[0].linear_top1


def timed_fit(args: list[str]) -> tuple[Path, int, int, float]:
    """`simclr fit args` -> (last checkpoint, optimiser steps, pairs per step, seconds)."""
    start = time.perf_counter()
    cli = simclr.run_fit(args)
    seconds = time.perf_counter() - start
    return (
        Path(cli.trainer.checkpoint_callback.last_model_path),
        cli.trainer.global_step,
        cli.datamodule.batch_size,
        seconds,
    )


def quick(steps: int | None, batch: int | None) -> list[str]:
    """Options of a quick check: every fit stops after `steps` at batch `batch` (None: the configs' own)."""
    args = ["--trainer.max_steps", str(steps), "--trainer.limit_val_batches", "1"] if steps else []
    return args + (["--data.init_args.batch_size", str(batch)] if batch else [])


def run_simclr(seed: int, fm_root: str, out: Path, extra: list[str]) -> tuple[dict, Path]:
    run = out / f"simclr-seed{seed}"
    args = ["fit", "--config", "fashion_mnist", "--config", "trainer/cpu_demo", "--seed_everything", str(seed),
            "--data.init_args.root", fm_root, "--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.save_dir", str(run), "--checkpoint.dirpath", str(run / "checkpoints"), *extra]  # fmt: skip
    ckpt, steps, batch, seconds = timed_fit(args)
    row = {"variant": "simclr", "seed": seed, "steps": steps, "batch": batch, "fit_s": round(seconds, 1),
           "pairs_per_s": round(steps * batch / seconds, 1), "h_linear_top1": probe_h(ckpt, fm_root)}  # fmt: skip
    return row, ckpt


def run_variant(
    name: str, seed: int, captions: Path, fm_root: str, simclr_ckpt: Path, out: Path, extra: list[str]
) -> dict:
    run = out / f"{name}-seed{seed}"
    args = ["fit", "--config", "configs/clip_fashion_mnist.yaml"]
    for config in VARIANTS[name]:
        args += ["--config", config]
    args += ["--seed_everything", str(seed), "--data.init_args.manifest", str(captions / "train.jsonl"),
             "--data.init_args.val_manifest", str(captions / "val.jsonl"), "--trainer.enable_progress_bar", "false",
             "--trainer.logger.init_args.save_dir", str(run), "--checkpoint.dirpath", str(run / "checkpoints")]  # fmt: skip
    if name == "lit":
        args += ["--model.init_args.image_init", str(simclr_ckpt)]
    args += extra
    ckpt, steps, batch, seconds = timed_fit(args)
    data = simclr.FashionMNIST(root=fm_root)
    report = zeroshot(str(ckpt), data=data, classes=str(captions / "classes.txt"),
                      prompts=str(captions / "prompts.txt"), out_dir=str(run))  # fmt: skip
    scores = json.loads(report.with_suffix(".json").read_text())
    return {"variant": name, "seed": seed, "steps": steps, "batch": batch, "fit_s": round(seconds, 1),
            "pairs_per_s": round(steps * batch / seconds, 1), "h_linear_top1": probe_h(ckpt, fm_root),
            "zeroshot_top1": scores["top1"], **{k: v for k, v in scores["retrieval"].items() if k != "pairs"}}  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fm-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--captions", type=Path, default=Path("data/fashion_mnist_captions"),
                   help="the caption set (written by `simclr captions` when missing)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--runs", type=Path, default=Path("runs/image_text"), help="where the runs are written")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/cpu/image_text.json"))
    p.add_argument("--steps", type=int, help="a quick check: stop every fit after this many steps")
    p.add_argument("--batch-size", type=int, help="a quick check: this batch for every fit")
    p.add_argument("--render", action="store_true",
                   help=f"train nothing: render {PAGE}'s tables from --out (and --throughput)")  # fmt: skip
    p.add_argument("--throughput", type=Path, default=Path("benchmarks/results/cpu/image_text_throughput.json"),
                   help="the JSON of a throughput run (`--seeds 0 --out` it), for --render")  # fmt: skip
    args = p.parse_args(argv)
    if args.render:
        record = json.loads(args.out.read_text())
        throughput = json.loads(args.throughput.read_text()) if args.throughput.is_file() else None
        PAGE.write_text(render_page(PAGE, record, throughput))
        README.write_text(render_readme(README, record))
        print(f"rendered {PAGE} and {README}'s image-text line")
        return record["results"]
    extra = quick(args.steps, args.batch_size)
    if not (args.captions / "train.jsonl").is_file():
        write_fashion_mnist_captions(args.fm_root, args.captions)
    results = []
    for seed in args.seeds:
        row, simclr_ckpt = run_simclr(seed, args.fm_root, args.runs, extra)
        results.append(row)
        print(row, flush=True)
        for name in args.variants:
            results.append(run_variant(name, seed, args.captions, args.fm_root, simclr_ckpt, args.runs, extra))
            print(results[-1], flush=True)
    columns = ["variant", "seed", "steps", "fit_s", "pairs_per_s", "h_linear_top1", "zeroshot_top1", "i2t_r1",
               "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"]  # fmt: skip
    print_table(results, columns)
    settings = {"seeds": args.seeds, "variants": args.variants, "captions": str(args.captions),
                **environment("cpu")}  # fmt: skip  # threads, versions, date, commit
    write_json(args.out, "image_text", torch.device("cpu"), settings, results)
    return results


if __name__ == "__main__":
    main()
