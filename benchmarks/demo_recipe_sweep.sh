#!/usr/bin/env bash
# One-epoch Fashion-MNIST runs that chose the CPU demo recipe (README, "Choosing the CPU demo recipe").
# Each run: `simclr fit` for one epoch with the overrides named, then `simclr probe` (h, head, z).
# Usage: bash benchmarks/demo_recipe_sweep.sh [OUT_DIR]   (about 3 minutes a run on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/sweep}
SIMCLR=${SIMCLR:-.venv/bin/simclr}
W16="--model.encoder.init_args.layers [2,2,2,2] --model.encoder.init_args.width 16"
LARS="--model.optimizer simclr.lars.LARS --model.optimizer.init_args.momentum 0.9"

run() {  # name, overrides...
  local name=$1; shift
  "$SIMCLR" fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml --trainer.max_epochs 1 \
    --trainer.limit_val_batches 0 --trainer.enable_progress_bar false --model.warmup_epochs 0.1 \
    --trainer.logger.init_args.save_dir "$OUT/$name" --trainer.logger.init_args.name "" --trainer.logger.init_args.version "" "$@"
  "$SIMCLR" probe --ckpt "$OUT/$name/checkpoints/last.ckpt" --baselines false --out_dir "$OUT/$name"
}

run A_w16_lars_b512_t05 $W16 $LARS --model.optimizer.init_args.lr 1.0 --data.init_args.batch_size 512 --model.loss.init_args.temperature 0.5
run B_w16_adamw_b256_t02 $W16
run C_w16_lars_b256_t02 $W16 $LARS --model.optimizer.init_args.lr 0.5
run D_w16_adamw_b128_t02 $W16 --model.optimizer.init_args.lr 1e-3 --data.init_args.batch_size 128
run E_w16_adamw_crop04 $W16 --model.augment.init_args.pipeline.init_args.crop_scale "[0.4, 1.0]"
run F_w32r10_adamw_b256_t02
run I_w32r10_t05 --model.loss.init_args.temperature 0.5
run J_w32r10_t01 --model.loss.init_args.temperature 0.1
run K_w32r10_lr4e3 --model.optimizer.init_args.lr 4e-3
