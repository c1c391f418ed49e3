#!/usr/bin/env bash
# One-epoch Fashion-MNIST runs that chose the CPU demo recipe (README, "Choosing the CPU demo recipe").
# Each run: `simclr fit` for one epoch with the overrides named, then `simclr probe` (h, head, z).
# Usage: bash benchmarks/demo_recipe_sweep.sh [OUT_DIR]   (about 3 minutes a run on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/sweep}
SIMCLR=${SIMCLR:-.venv/bin/simclr}
# Sessions 1-3 ran on the width-32 demo config of that time; these overrides restore it as the base.
OLD="--model.encoder.init_args.stage_widths null --model.encoder.init_args.width 32 --data.init_args.batch_size 256 --trainer.max_steps -1 --model.optimizer.init_args.fused false"
W16="--model.encoder.init_args.layers [2,2,2,2] --model.encoder.init_args.width 16"
LARS="--model.optimizer simclr.lars.LARS --model.optimizer.init_args.momentum 0.9"

run() {  # name, overrides...
  local name=$1; shift
  "$SIMCLR" fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml --trainer.max_epochs 1 \
    --trainer.limit_val_batches 0 --trainer.enable_progress_bar false --model.warmup_epochs 0.1 \
    --trainer.logger.init_args.save_dir "$OUT/$name" --trainer.logger.init_args.name "" --trainer.logger.init_args.version "" $OLD "$@"
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

# Session 4 (README "Session 4" table): one epoch on the config of that time, default warmup, h probed
# only; the README's figures ran two at a time with OMP_NUM_THREADS=1.
run4() {  # name, overrides...
  local name=$1; shift
  "$SIMCLR" fit --config configs/fashion_mnist.yaml --config configs/trainer/cpu_demo.yaml --trainer.max_epochs 1 \
    --trainer.max_steps -1 --trainer.enable_progress_bar false --trainer.logger.init_args.save_dir "$OUT/$name" \
    --trainer.logger.init_args.name "" --trainer.logger.init_args.version "" --model.optimizer.init_args.fused false "$@"
  "$SIMCLR" probe --ckpt "$OUT/$name/checkpoints/last.ckpt" --baselines false --representations "[h]" --out_dir "$OUT/$name"
}
W48="--model.encoder.init_args.stage_widths [48,96,192,384]"
run4 S4_w48_b256 $W48 --data.init_args.batch_size 256
run4 S4_w48_b128 $W48
run4 S4_w48_b64 $W48 --data.init_args.batch_size 64
run4 S4_w768_b128
run4 S4_narrow_trunk --model.encoder.init_args.stage_widths [32,64,128,768]
run4 S4_w1024 --model.encoder.init_args.stage_widths [48,96,192,1024]
