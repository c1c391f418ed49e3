"""Each benchmark script runs at a tiny size and writes a JSON record with every field (no timing checks)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import augment_throughput  # noqa: E402
import ntxent  # noqa: E402
import probe_convergence  # noqa: E402
import small_map_conv  # noqa: E402
import train_throughput  # noqa: E402

pytestmark = pytest.mark.slow  # runs the CLI, notebooks, benchmark scripts or several processes

ENVIRONMENT = (
    "benchmark",
    "device",
    "device_name",
    "torch",
    "cuda",
    "kornia",
    "torchvision",
    "lightning",
    "threads",
    "timing",
    "command",
    "settings",
)
COMMON = ("--device", "cpu", "--repeats", "2", "--warmup", "1")


def load(path: Path, benchmark: str) -> dict:
    record = json.loads(path.read_text())
    missing = [key for key in ENVIRONMENT if key not in record]
    assert not missing, missing
    assert record["benchmark"] == benchmark and record["device"] == "cpu" and record["timing"] == "wall-clock"
    assert record["device_name"] and record["torch"] and record["kornia"]
    return record


def check_row(row: dict, fields: tuple[str, ...], repeats: int = 2) -> None:
    missing = [key for key in fields if key not in row]
    assert not missing, missing
    for key in fields:
        if key.endswith("times_s"):
            assert len(row[key]) == repeats and all(t > 0 for t in row[key])
        elif isinstance(row[key], float):
            assert row[key] > 0, (key, row[key])


def test_augment_throughput_json(tmp_path):
    out = tmp_path / "aug.json"
    args = ["--imagenet_size", "40", "--batch", "4", "--iters", "1", "--workers", "0", "--out", str(out), *COMMON]
    augment_throughput.main(args)
    record = load(out, "augment_throughput")
    presets = ["simclr_fashion_mnist", "simclr_cifar", "simclr_imagenet"]
    assert [(r["preset"], r["method"]) for r in record["results"]] == [
        (preset, method) for preset in presets for method in ("fast", "kornia", "torchvision")
    ]
    fields = ("preset", "method", "image_size", "source_size", "channels", "batch", "views_per_batch", "workers",
              "median_s_per_batch", "views_per_s", "times_s", "fast_speedup")  # fmt: skip
    for row in record["results"]:
        check_row(row, fields)
        assert row["views_per_batch"] == 8
        assert (row["image_size"], row["channels"]) == {"simclr_fashion_mnist": (28, 1), "simclr_cifar": (32, 3),
                                                        "simclr_imagenet": (40, 3)}[row["preset"]]  # fmt: skip


def test_train_throughput_json(tmp_path):
    out = tmp_path / "train.json"
    train_throughput.main(["--presets", "tiny", "--iters", "2", "--optimizer", "sgd-fused", "--out", str(out), *COMMON])
    record = load(out, "train_throughput")
    assert record["settings"]["precision"] == "32-true"
    (row,) = record["results"]
    check_row(row, ("preset", "image_size", "batch", "dataset_size", "end_to_end_s_per_step", "end_to_end_images_per_s", "end_to_end_times_s",
                    "model_only_s_per_step", "model_only_images_per_s", "model_only_times_s", "ratio", "epoch_s"))  # fmt: skip
    assert row["ratio"] == pytest.approx(row["end_to_end_images_per_s"] / row["model_only_images_per_s"])


def test_ntxent_json(tmp_path):
    out = tmp_path / "ntxent.json"
    ntxent.main(["--batches", "16", "--iters", "1", "--out", str(out), *COMMON])
    record = load(out, "ntxent")
    assert [r["batch"] for r in record["results"]] == [16]
    for row in record["results"]:
        check_row(row, ("batch", "dim", "dtype", "median_ms", "times_s", "peak_method"))
        assert row["peak_extra_mib"] >= 0


def test_small_map_conv_json(tmp_path):
    out = tmp_path / "small.json"
    small_map_conv.main(["--batch", "4", "--width", "4", "--iters", "1", "--out", str(out), *COMMON])
    record = load(out, "small_map_conv")
    *convs, step = record["results"]
    assert [r["conv"] for r in convs] == ["layer3.conv2 (2x2)", "layer4.conv1 (2x2 -> 1x1)", "layer4.conv2 (1x1)"]
    for row in convs:
        check_row(row, ("conv", "images", "c_in", "c_out", "torch_forward_ms", "gemm_forward_ms"))
        assert row["images"] == 8  # backward = (forward + backward) - forward: may round to 0 at this size
        assert min(row["torch_backward_ms"], row["gemm_backward_ms"], row["backward_speedup"]) >= 0
    check_row(
        step,
        ("width", "images", "torch_step_ms", "gemm_step_ms", "torch_step_times_s", "gemm_step_times_s", "step_speedup"),
    )
    assert step["step_speedup"] == pytest.approx(step["torch_step_ms"] / step["gemm_step_ms"])


def test_probe_convergence_json(tmp_path):
    from helpers.fakedata import write_fashion_mnist
    from test_commands import pretrain

    ckpt = pretrain(tmp_path, "fashion_mnist.yaml", write_fashion_mnist(tmp_path / "fmnist", n_train=64, n_test=32))
    out = tmp_path / "probe.json"
    probe_convergence.main(["--ckpt", str(ckpt), "--iterations", "2", "5", "--out", str(out)])
    record = load(out, "probe_convergence")
    assert [(r["solver"], r["iterations"]) for r in record["results"]] == [
        ("plain", 2),
        ("plain", 5),
        ("whitened", 2),
        ("whitened", 5),
    ]
    for row in record["results"]:
        check_row(row, ("solver", "iterations", "objective", "test_top1", "seconds", "dim", "train_images"))
        assert row["dim"] == 768 and row["train_images"] == 64 and 0 <= row["test_top1"] <= 1


def test_decode_throughput_json(tmp_path):
    import decode_throughput

    out = tmp_path / "decode.json"
    args = ["--images", "4", "--sources", "64x48", "--targets", "16", "--batch", "2", "--workers", "0"]
    decode_throughput.main([*args, "--out", str(out), *COMMON])
    record = load(out, "decode_throughput")
    assert record["settings"]["sources"] == ["64x48"] and record["settings"]["quality"] == 90
    assert [(r["source"], r["target"], r["method"]) for r in record["results"]] == [
        ("64x48", 16, "ours"),
        ("64x48", 16, "torchvision"),
    ]
    fields = ("source", "target", "method", "images", "batch", "workers", "mean_file_kib", "images_per_s",
              "median_s_per_pass", "times_s", "ours_speedup")  # fmt: skip
    for row in record["results"]:
        check_row(row, fields)
        assert row["images"] == 4
    ours, baseline = record["results"]
    assert ours["draft_scale"] == 2 and ours["ours_speedup"] == 1.0
    assert baseline["ours_speedup"] == pytest.approx(ours["images_per_s"] / baseline["images_per_s"])


def test_index_time_json(tmp_path):
    import index_time

    out = tmp_path / "index.json"
    index_time.main(["--files", "50", "--per-folder", "10", "--repeats", "1", "--out", str(out)])
    record = load(out, "index_time")
    assert record["settings"]["files"] == 50 and record["settings"]["folders"] == 7  # root, g000, 5 leaves
    assert [r["method"] for r in record["results"]][:2] == [
        "os.scandir walk (no cache)",
        "cached index (folders unchanged)",
    ]
    assert all(r["seconds"] >= 0 for r in record["results"])


def test_memory_json(tmp_path):
    import memory

    out = tmp_path / "memory.json"
    memory.main(["--batches", "8", "--chunks", "4", "--steps", "1", "--out", str(out)])
    record = load(out, "memory")
    rows = record["results"]
    assert [(r["chunk"], r["checkpointing"]) for r in rows] == [(None, False), (4, False), (None, True)]
    assert all(r["status"] == "ok" and r["peak_mb"] >= r["rss_before_mb"] > 0 and r["step_s"] > 0 for r in rows)


def test_image_text_json(tmp_path):
    import image_text
    from helpers import fakedata

    from simclr.captions import write_fashion_mnist_captions

    fm = fakedata.write_fashion_mnist(tmp_path / "fm")
    captions = write_fashion_mnist_captions(fm, tmp_path / "captions", train_images=40, val_images=16)
    out = tmp_path / "image_text.json"
    image_text.main(["--fm-root", str(fm), "--captions", str(captions), "--seeds", "0", "--runs", str(tmp_path / "runs"),
                     "--steps", "2", "--batch-size", "8", "--out", str(out)])  # fmt: skip
    rows = load(out, "image_text")["results"]
    assert [r["variant"] for r in rows] == ["simclr", "clip", "siglip", "lit", "slip"]
    assert all(r["steps"] == 2 and r["pairs_per_s"] > 0 and 0 <= r["h_linear_top1"] <= 1 for r in rows)
    assert all(0 <= r["zeroshot_top1"] <= 1 and r["i2t_r1"] <= r["i2t_r10"] for r in rows[1:])
