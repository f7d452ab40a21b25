#!/usr/bin/env bash
# The RTMDet-tiny collapse: its 12-epoch joint config from scratch with label noise 0.3
# and a 10:1 long tail, several training seeds, beside the stock config, each with
# MMDetection's SepBN head (BatchNorm per level; here) and with the GroupNorm head of the
# built-in configs (../rtmdet-collapse-gn); stock and joint alternate so that a partial
# run already compares them. Resumable (rows of results.json in each folder);
# diagnose.py then reads every run's classifier level by level.
#
#   bash studies/rtmdet-collapse/run.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-studies/rtmdet-collapse}
# SepBN head (MMDetection's)
STOCK_BN=configs/rtmdet/rtmdet_tiny_sepbn-head_12e_shapes.py
JOINT_BN=configs/clip_joint/ablations/rtmdet_tiny_sepbn-head_clip-joint_12e_shapes.py
# GroupNorm head (the built-in configs'; the override repeats what they set and keeps
# the ids of the -gn folder's runs)
STOCK=configs/rtmdet/rtmdet_tiny_12e_shapes.py
JOINT=configs/clip_joint/rtmdet_tiny_clip-joint_12e_shapes.py
GN="model.bbox_head.norm_cfg.type=GN model.bbox_head.norm_cfg.num_groups=32"
run() {  # out config seed [cfg-options...]
  local out=$1 config=$2 seed=$3; shift 3
  $PY tools/study.py --configs "$config" --family rtmdet --noise 0.3 --imbalance 10 \
    --seeds "$seed" --epochs 12 --out "$out" ${1:+--cfg-options "$@"}
}
for seed in ${SEEDS:-0 1 2 3}; do
  run "$OUT" $STOCK_BN $seed
  run "$OUT" $JOINT_BN $seed
  run "$OUT-gn" $STOCK $seed $GN
  run "$OUT-gn" $JOINT $seed $GN
done
