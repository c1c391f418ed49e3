"""A short `simclr finetune` run of a tiny pretraining checkpoint, for the fine-tuning and distillation tests."""

from pathlib import Path

from simclr.cli.finetune import run_finetune


def finetune_args(ckpt: Path, out: Path, *extra: str) -> list[str]:
    """`finetune` arguments: half the labels of the 64 fake images (30), 2 steps of 8 images, on the CPU."""
    return ["--ckpt", str(ckpt), "--out_dir", str(out), "--label_fraction", "0.5", "--max_steps", "2",
            "--batch_size", "8", "--device", "cpu", *extra]  # fmt: skip


def finetune_tiny(ckpt: Path, out: Path, *extra: str) -> Path:
    """The checkpoint of a 2-step fine-tuning run of `ckpt` written into `out`."""
    return run_finetune(finetune_args(ckpt, out, *extra))
