"""Linear-probe convergence: full-batch L-BFGS on z-scored features, plain vs PCA-whitened (`simclr.eval.whitening`).

Both solve the same convex objective (cross-entropy + L2 on the z-scored weights), so they share one
optimum; the table shows how many iterations each needs to get there, and what that costs, on the frozen
features of a checkpoint (train split for the fit, test split for top-1).

    python benchmarks/probe_convergence.py --ckpt runs/demo/checkpoints/last.ckpt          # docs/probe.md figures
    python benchmarks/probe_convergence.py --ckpt CKPT --limit 64 --iterations 2 5          # CI
"""

from __future__ import annotations

import argparse
import time

import torch
from common import REPO, pick_device, print_table, write_json
from torch.utils.data import Subset

from simclr.eval.features import extract_representations
from simclr.eval.linear_probe import ProbeRecipe, prepared_features, train_probe
from simclr.loading.pretrained import load_datamodule, load_pretrained
from simclr.models.representations import projection_head


def features(ckpt: str, root: str | None, representation: str, limit: int | None, device: torch.device):
    """(train (N, D), train labels (N,), test (M, D), test labels (M,)) of one representation of a checkpoint."""
    model = load_pretrained(ckpt, map_location=device)
    data = load_datamodule(ckpt, root)
    layout = torch.channels_last if getattr(model, "channels_last", False) else torch.contiguous_format
    out = []
    for split in ("train", "test"):
        dataset = data.labelled_dataset(split)
        if limit:
            dataset = Subset(dataset, range(min(limit, len(dataset))))
        feats, labels = extract_representations(
            model.encoder, projection_head(model.head), dataset, model.augment.normalise, 1024, device, layout
        )
        out += [feats[representation], labels]
    return (*out, data.num_classes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=str(REPO / "runs/demo/checkpoints/last.ckpt"))
    parser.add_argument("--root", default=None, help="data root, if it moved since pretraining")
    parser.add_argument("--representation", default="h", help="h, head_1, ..., or z")
    parser.add_argument("--iterations", type=int, nargs="+", default=[25, 50, 100, 300], help="L-BFGS iterations")
    parser.add_argument("--limit", type=int, default=None, help="images per split (CI); default: all")
    parser.add_argument("--device", default="cpu", help="where features are extracted (probes run on the CPU)")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/cpu/probe_convergence.json"))
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    train_x, train_y, test_x, test_y, classes = features(args.ckpt, args.root, args.representation, args.limit, device)
    train_x, test_x = train_x.cpu(), test_x.cpu()

    rows = []
    for whiten in (False, True):
        for iterations in args.iterations:
            recipe = ProbeRecipe(max_iter=iterations, whiten=whiten)
            start = time.perf_counter()
            tr, te, penalty = prepared_features(train_x, test_x, recipe)
            probe = train_probe(tr, train_y, classes, recipe, penalty)
            seconds = time.perf_counter() - start
            with torch.no_grad():
                objective = probe.objective(probe(tr), train_y).item()
                top1 = (probe(te).argmax(1) == test_y).float().mean().item()
            rows.append(
                {
                    "solver": "whitened" if whiten else "plain",
                    "iterations": iterations,
                    "objective": objective,
                    "test_top1": top1,
                    "seconds": seconds,
                    "dim": int(train_x.shape[1]),
                    "train_images": len(train_x),
                }
            )
            print_table(rows[-1:], list(rows[-1]))
    print_table(rows, ["solver", "iterations", "objective", "test_top1", "seconds"])
    write_json(args.out, "probe_convergence", torch.device("cpu"), vars(args), rows)


if __name__ == "__main__":
    main()
