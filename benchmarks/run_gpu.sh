#!/usr/bin/env bash
# The GPU figures for docs/speed.md: run on one GPU from the repo root after `make setup`.
# Usage: bash benchmarks/run_gpu.sh   (PYTHON=... to pick the interpreter). JSON in benchmarks/results/gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=benchmarks/results/gpu
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
# 1. augmentation views/s: ours vs stock kornia vs torchvision per-sample in 16 DataLoader workers
"$PY" benchmarks/augment_throughput.py --device cuda --sizes 32 224 --batch 256 --workers 16 --out $OUT/augment.json
# 2. end-to-end vs model-only: ResNet-18 32 px B=512 (50k images: epoch_s is a CIFAR-10 epoch), ResNet-50 224 px B=256;
#    bf16-mixed, channels_last, LARS (multi-tensor); then the same with torch.compile and with fused AdamW
"$PY" benchmarks/train_throughput.py --device cuda --presets r18-32 r50-224 --out $OUT/train.json
"$PY" benchmarks/train_throughput.py --device cuda --presets r18-32 r50-224 --compile --out $OUT/train_compile.json
"$PY" benchmarks/train_throughput.py --device cuda --presets r18-32 --optimizer adamw-fused --out $OUT/train_adamw_fused.json
# 3. NT-Xent fwd+bwd time and peak memory, B = 256 ... 16384
"$PY" benchmarks/ntxent.py --device cuda --batches 256 512 1024 2048 4096 8192 16384 --out $OUT/ntxent.json
