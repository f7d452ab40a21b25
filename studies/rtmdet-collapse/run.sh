#!/usr/bin/env bash
# The RTMDet-tiny collapse: its 12-epoch joint config from scratch with label noise 0.3
# and a 10:1 long tail, several training seeds, beside the stock config. Resumable (rows
# of results.json here).
#
#   bash studies/rtmdet-collapse/run.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-studies/rtmdet-collapse}
JOINT=${JOINT:-configs/clip_joint/rtmdet_tiny_clip-joint_12e_shapes.py}
STOCK=configs/rtmdet/rtmdet_tiny_12e_shapes.py
run() {  # config seeds...
  local config=$1; shift
  $PY tools/study.py --configs "$config" --family rtmdet --noise 0.3 --imbalance 10 \
    --seeds "$@" --epochs 12 --out "$OUT"
}
run $JOINT 0 1 2 3
run $STOCK 0 1
