"""Train SimCLR from Python with the library's parts and a Lightning Trainer, then probe h and z.

    python examples/train_and_probe.py --root /usr/share/datasets/fashion-mnist --max_steps 300

Every part is a plain object: the encoder f(.), the projection head g(.), the view generator (a preset
of device-side augmentations), the NT-Xent loss and the optimiser; a plain Lightning Trainer runs them.
`simclr.probe_encoder` is the frozen linear probe (and kNN) that `simclr probe` reports. (`simclr fit
--config fashion_mnist` trains the same parts from a YAML and writes checkpoints `simclr.load` reads.)
"""

import argparse
from functools import partial

import lightning as L
import torch

import augmentations
import simclr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST folder")
    p.add_argument("--out_dir", default="runs/example", help="checkpoints and TensorBoard logs")
    p.add_argument("--max_steps", type=int, default=300, help="optimiser steps")
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--widths", type=int, nargs=4, default=[32, 64, 128, 256], help="ResNet-10 stage widths")
    args = p.parse_args()
    torch.manual_seed(0)

    data = simclr.FashionMNIST(root=args.root, batch_size=args.batch_size)  # uint8 batches; views made on device
    encoder = simclr.ResNetEncoder(layers=[1, 1, 1, 1], stage_widths=args.widths, in_channels=1)
    model = simclr.SimCLR(
        encoder=encoder,
        head=partial(simclr.ProjectionHead, hidden_dim=256, out_dim=64),  # built from the encoder's feature_dim
        augment=augmentations.MultiView(augmentations.simclr_fashion_mnist(size=28), n_views=2),
        loss=simclr.NTXentLoss(temperature=0.2),
        optimizer=partial(torch.optim.AdamW, lr=2e-3, weight_decay=1e-6),
        warmup_epochs=0.1,
    )
    trainer = L.Trainer(max_steps=args.max_steps, default_root_dir=args.out_dir, limit_val_batches=0, logger=False)
    trainer.fit(model, datamodule=data)

    data.setup("fit")
    rows = simclr.probe_encoder(
        model.encoder,
        data.labelled_dataset("train"),
        data.labelled_dataset("test"),
        model.augment.normalise,
        data.num_classes,
        head=model.head,
        representations=["h", "z"],
        device=model.device,
    )
    for row in rows:
        print(f"{row.representation}: linear top-1 {100 * row.linear_top1:.2f}%, kNN top-1 {100 * row.knn_top1:.2f}%")


if __name__ == "__main__":
    main()
