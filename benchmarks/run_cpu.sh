#!/usr/bin/env bash
# The CPU figures in docs/speed.md: small sizes that finish in minutes on 2 cores. JSON in benchmarks/results/cpu/.
# Usage: bash benchmarks/run_cpu.sh   (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=benchmarks/results/cpu
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
"$PY" benchmarks/augment_throughput.py --device cpu --presets simclr_fashion_mnist simclr_cifar --batch 256 --workers 2 --iters 2 --repeats 7 --out $OUT/augment_small.json
"$PY" benchmarks/augment_throughput.py --device cpu --presets simclr_imagenet --batch 32 --workers 2 --iters 1 --repeats 7 --out $OUT/augment_224.json
"$PY" benchmarks/train_throughput.py --device cpu --presets r18-32 --batch 64 --dataset-size 1024 --iters 2 --repeats 3 --warmup 1 --out $OUT/train_r18_32.json
"$PY" benchmarks/train_throughput.py --device cpu --presets r50-224 --batch 8 --dataset-size 64 --iters 2 --repeats 3 --warmup 1 --out $OUT/train_r50_224.json
"$PY" benchmarks/ntxent.py --device cpu --batches 256 512 1024 2048 4096 --iters 2 --repeats 3 --out $OUT/ntxent.json
"$PY" benchmarks/small_map_conv.py --device cpu --out $OUT/small_map_conv.json
"$PY" benchmarks/decode_throughput.py --device cpu --images 400 --workers 2 --out $OUT/decode_throughput.json
"$PY" benchmarks/index_time.py --files 100000 --per-folder 100 --repeats 3 --out $OUT/index_time.json
"$PY" benchmarks/probe_convergence.py --ckpt runs/demo/checkpoints/last.ckpt --out $OUT/probe_convergence.json  # needs `make demo` first
