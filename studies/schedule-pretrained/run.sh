#!/usr/bin/env bash
# The schedule sweep of the pretrained regime: each family's stock model from its built-in
# pretrained backbone (the *crops-pre* configs), clean labels, trained for several lengths;
# a family's schedule for the study is the shortest whose validation mAP is within about a
# point of the longest's. Resumable: every run is a row of results.json here, and a run
# already there is not trained again. Short runs first, so that a partial sweep already
# brackets each family from below (a shorter schedule than the config's own makes the
# 33-run grid cheaper where it is within a point); then each family's longest.
#
#   bash studies/schedule-pretrained/run.sh          # from the repository root
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=studies/schedule-pretrained
FRCNN=configs/faster_rcnn/faster-rcnn_r18-slim-crops-pre_fpn_8e_shapes.py
RTMDET=configs/rtmdet/rtmdet_tiny_crops-pre_12e_shapes.py
YOLO11=configs/yolo11/yolo11_n_crops-pre_24e_shapes.py
SEEDS=${SEEDS:-0}

sweep() {  # family config epochs
  $PY tools/study.py --configs "$2" --family "$1" --noise 0 --seeds $SEEDS --epochs "$3" \
    --out "$OUT"
}
sweep faster-rcnn $FRCNN 12
sweep rtmdet $RTMDET 12
sweep yolo11 $YOLO11 24
sweep faster-rcnn $FRCNN 8
sweep rtmdet $RTMDET 24
sweep yolo11 $YOLO11 12
# RTMDet-tiny gained 7 points from 12 to 24 epochs: its 36 first.
sweep rtmdet $RTMDET 36
sweep faster-rcnn $FRCNN 24
sweep yolo11 $YOLO11 48
sweep faster-rcnn $FRCNN 18
