#!/usr/bin/env bash
# The RTMDet-tiny collapse: its 12-epoch joint config from scratch with label noise 0.3
# and a 10:1 long tail, several training seeds, beside the stock config; stock and joint
# alternate so that a partial run already compares them. Then the same two configs with
# GroupNorm instead of BatchNorm in the head (../rtmdet-collapse-gn; diagnose.py found the
# stride-32 level's BatchNorm statistics at the root of the collapse). Resumable (rows of
# results.json in each folder); diagnose.py then reads every run's classifier by level.
#
#   bash studies/rtmdet-collapse/run.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-studies/rtmdet-collapse}
JOINT=${JOINT:-configs/clip_joint/rtmdet_tiny_clip-joint_12e_shapes.py}
STOCK=configs/rtmdet/rtmdet_tiny_12e_shapes.py
GN="model.bbox_head.norm_cfg.type=GN model.bbox_head.norm_cfg.num_groups=32"
run() {  # out config seed [cfg-options...]
  local out=$1 config=$2 seed=$3; shift 3
  $PY tools/study.py --configs "$config" --family rtmdet --noise 0.3 --imbalance 10 \
    --seeds "$seed" --epochs 12 --out "$out" ${1:+--cfg-options "$@"}
}
for seed in ${SEEDS:-0 1 2 3}; do
  run "$OUT" $STOCK $seed
  run "$OUT" $JOINT $seed
  run "$OUT-gn" $STOCK $seed $GN
  run "$OUT-gn" $JOINT $seed $GN
done
