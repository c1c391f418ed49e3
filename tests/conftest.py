"""Shared fixtures: a `device` fixture (CPU always, CUDA when present), and a tiny `simclr fit` config
with a short trained checkpoint for the CLI tests."""

from pathlib import Path

import pytest
import torch
from helpers.captions import some_captions
from helpers.cli import run_args, write_tiny_config

from simclr.captions import train_tokenizer
from simclr.pretraining import run_fit

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """tiny.yaml next to 64 + 32 fake Fashion-MNIST images (8 training steps per epoch)."""
    return write_tiny_config(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def trained(tiny, tmp_path_factory) -> Path:
    """last.ckpt of a 2-step run of the tiny model."""
    run = tmp_path_factory.mktemp("trained")
    run_fit(run_args(tiny, run, "--trainer.max_steps", "2"))
    return run / "ckpt" / "last.ckpt"


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory) -> Path:
    """A BPE tokenizer of 320 ids trained on `some_captions()`, once per test module."""
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(some_captions(), path, vocab_size=320)
    return path
