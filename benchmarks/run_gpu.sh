#!/usr/bin/env bash
# The one script to run whenever a GPU is at hand (under 8 minutes on one H100/H200): the CUDA tests, the
# augmentation throughput of every preset on both backends (fast, kornia) and torchvision workers, training
# throughput, NT-Xent scaling and a short `simclr fit` on the GPU config. JSON (with the device name) in
# benchmarks/results/gpu/; figures go to docs/speed.md.
# Usage: bash benchmarks/run_gpu.sh   (PYTHON=... to pick the interpreter; after `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=benchmarks/results/gpu
mkdir -p $OUT
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
# 1. the tests that run on CUDA (the `device` fixture adds cuda when present): augmentation ops, train step
"$PY" -m pytest tests/test_augment_ops.py tests/test_augmentations.py tests/test_train_step.py tests/test_kornia_backend.py -q -x
"$PY" -m pytest tests/test_unlabelled.py -q -x -k "nvjpeg or on_the_device"   # JPEG batches decoded by nvJPEG
# 2. augmentation views/s per preset: fast vs stock kornia (both on the GPU) vs torchvision in 16 workers
"$PY" benchmarks/augment_throughput.py --device cuda --batch 256 --workers 16 --out $OUT/augment.json
# 3. end-to-end vs model-only: ResNet-18 32 px B=512 (50k images: epoch_s is a CIFAR-10 epoch), ResNet-50 224 px
#    B=256; bf16-mixed, channels_last, LARS (multi-tensor); then with torch.compile and with fused AdamW
"$PY" benchmarks/train_throughput.py --device cuda --presets r18-32 r50-224 --out $OUT/train.json
"$PY" benchmarks/train_throughput.py --device cuda --presets r18-32 r50-224 --compile --out $OUT/train_compile.json
"$PY" benchmarks/train_throughput.py --device cuda --presets r18-32 --optimizer adamw-fused --out $OUT/train_adamw_fused.json
# 3b. JPEG decoding: workers (ours, torchvision ImageFolder) in 16 workers
"$PY" benchmarks/decode_throughput.py --device cpu --images 2000 --workers 16 --out $OUT/decode_throughput.json
# 4. NT-Xent fwd+bwd time and peak memory, B = 256 ... 16384
"$PY" benchmarks/ntxent.py --device cuda --batches 256 512 1024 2048 4096 8192 16384 --out $OUT/ntxent.json
# 4b. peak memory and step time at B = 256 / 1024 / 4096: plain, gradient cache (chunks 128, 256), checkpointing
"$PY" benchmarks/memory.py --device cuda --models demo r18-96 --batches 256 1024 4096 --steps 3 --out $OUT/memory.json
# 5. a short fit on the GPU trainer config, fast then kornia backend (Fashion-MNIST, 200 steps each)
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
for backend in fast kornia; do
  start=$(date +%s.%N)
  "$PY" -m simclr.cli.main fit --config configs/fashion_mnist.yaml --config configs/trainer/gpu.yaml \
    --data.init_args.root "$FMNIST" --model.augment.init_args.pipeline.init_args.backend $backend \
    --trainer.max_steps 200 --trainer.max_epochs 1 --trainer.limit_val_batches 2 --trainer.enable_progress_bar false \
    --trainer.logger.init_args.save_dir runs/gpu_check_$backend
  "$PY" -c "import json, sys, time, torch; json.dump({'benchmark': 'gpu_fit', 'device_name': torch.cuda.get_device_name(), 'backend': '$backend', 'steps': 200, 'wall_s': time.time() - $start}, open('$OUT/fit_$backend.json', 'w'), indent=1)"
done
