"""A 2-process DDP fit on the CPU (gloo) of the shipped CPU demo (configs/fashion_mnist.yaml stacked with
configs/trainer/cpu_demo.yaml: channels_last, the small-map GEMM convolutions, the online probe), shrunk:
no warning about gradient strides or epoch-level logs left unsynced, and the validation figures of the two
ranks together equal those of one process on the same images. Also, without processes: the small-map
convolutions give each weight a gradient with the weight's own strides, which DDP's buckets expect."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers import fakedata
from helpers.tensorboard import logged
from torch import nn

from simclr.models.small_map_conv_cpu import use_small_map_convs

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SIMCLR = Path(sys.executable).parent / "simclr"
WORLD, BATCH = 2, 8  # ranks, and images per rank and step; one process takes WORLD * BATCH a step
# 64 training images: 4 steps an epoch in both runs. 32 validation images: 2 batches per rank, all within
# cpu_demo's limit_val_batches (4) and split evenly, so DistributedSampler pads nothing and both runs score
# the same images (the 1-process batch k holds rank 0's and rank 1's batch k: DistributedSampler deals
# the images out in turn).
N_TRAIN, N_VAL = 64, 32
STEPS = 4
WATCHED = (  # the two warnings a clean DDP step must not give
    "Grad strides do not match bucket view strides",  # a gradient laid out unlike its parameter
    "It is recommended to use `self.log(",  # an epoch-level log that Lightning does not sync across ranks
)
TAGS = ("val/loss", "online/val_top1")

# Stacked after the two shipped configs: a small encoder on the demo's channels_last and small-map GEMM path
# (layer3 on 2x2 maps, layer4 on 1x1). Both runs validate the same weights on the same pixels only if
# nothing else differs between one and two processes: GroupNorm and a head without BatchNorm (BatchNorm's
# running statistics are per rank), views without random draws (each rank draws its own), a probe that
# does not learn (each rank trains its own copy on its own images), and weights that stay where they start
# (the runs sum gradients in different orders, and AdamW's first steps, about lr x the gradient's sign,
# would carry that rounding into the weights; lr 0 is refused as a config error).
SHRINK = {
    "model": {
        "encoder": {"init_args": {"stage_widths": [8, 16, 32, 64], "norm": "group"}},
        "head": {"init_args": {"hidden_dim": None, "out_dim": 8, "num_layers": 1}},
        "augment": {
            "init_args": {
                "pipeline": {
                    "class_path": "augmentations.ViewPipeline",
                    "init_args": {"transforms": [], "mean": [0.2860], "std": [0.3530]},
                }
            }
        },
        "optimizer": {"init_args": {"lr": 1.0e-8}},
    },
    "trainer": {
        "callbacks": [{"class_path": "simclr.training.OnlineLinearProbe", "init_args": {"num_classes": 10, "lr": 0.0}}],
        "max_steps": STEPS,
        "val_check_interval": STEPS // 2,  # two validations
        "enable_progress_bar": False,
        "enable_model_summary": False,
    },
}


def fit(tmp: Path, processes: int) -> dict[str, list]:
    """`simclr fit` with `processes` DDP ranks: the watched warnings any rank printed and the logged
    validation figures by tag.

    `strategy ddp` starts the other ranks as copies of the command, which share its stderr. The 1-process
    run uses DDP too: Lightning reseeds every rank when it sets up the process group, before the probe is
    built, so both runs start from the same probe."""
    root = fakedata.write_fashion_mnist(tmp / "fm", n_train=N_TRAIN, n_test=N_VAL)
    shrink = tmp / "shrink.yaml"
    shrink.write_text(yaml.safe_dump(SHRINK))
    run = tmp / "run"
    args = ["fit", "--config", str(CONFIGS / "fashion_mnist.yaml"), "--config", str(CONFIGS / "trainer" / "cpu_demo.yaml"),
            "--config", str(shrink), "--data.init_args.root", str(root),
            "--data.init_args.batch_size", str(BATCH * WORLD // processes),
            "--trainer.devices", str(processes), "--trainer.strategy", "ddp",
            "--trainer.default_root_dir", str(run), "--trainer.logger.init_args.save_dir", str(run),
            "--checkpoint.dirpath", str(run / "ckpt")]  # fmt: skip
    out = subprocess.run([str(SIMCLR), *args], cwd=tmp, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    shown = [line for line in out.stderr.splitlines() if any(text in line for text in WATCHED)]
    return {"warnings": shown} | {tag: logged(run, tag) for tag in TAGS}


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize(
    "kernel, stride, padding, side",
    [(3, 1, 1, 2), (3, 2, 1, 2), (1, 2, 0, 2), (3, 1, 1, 1), (1, 1, 0, 1)],  # layer3/4 shapes of the demo
)
def test_small_map_weight_gradients_have_their_weights_strides(kernel, stride, padding, side, channels_last):
    conv = use_small_map_convs(nn.Sequential(nn.Conv2d(6, 5, kernel, stride, padding, bias=False)))[0]
    layout = torch.channels_last if channels_last else torch.contiguous_format
    conv.to(memory_format=layout)
    raw = []  # the gradient as backward hands it over, before AccumulateGrad could copy it
    conv.weight.register_hook(raw.append)
    conv(torch.randn(3, 6, side, side).contiguous(memory_format=layout)).square().sum().backward()
    assert raw[0].stride() == conv.weight.stride() == conv.weight.grad.stride()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, dict[str, list]]:
    """The 1-process and the 2-process run, by number of processes."""
    return {n: fit(tmp_path_factory.mktemp(f"ddp{n}"), n) for n in (1, WORLD)}


@pytest.mark.slow  # several processes
@pytest.mark.parametrize("processes", [1, WORLD])
def test_a_ddp_fit_warns_neither_of_gradient_strides_nor_of_unsynced_logs(runs, processes):
    assert runs[processes]["warnings"] == []


@pytest.mark.slow
@pytest.mark.parametrize("tag", TAGS)
def test_two_ranks_validate_as_one_process_does(runs, tag):
    one, two = runs[1][tag], runs[WORLD][tag]
    assert len(one) == len(two) == 2, (one, two)
    assert two == pytest.approx(one, rel=1e-5, abs=1e-6)
