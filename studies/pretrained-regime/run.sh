#!/usr/bin/env bash
# The study in the method's own regime (docs/robustness_study.md, "The method's regime"):
# per family, from the built-in pretrained backbone, the stock model, the joint model with
# a random text start and with the built-in CLIP start (the paper's end-to-end setting),
# at symmetric label noise 0 and 0.4; a tenth of the branch's gradient (the option the
# defaults rule weighs) at 0.4; pair flips 0.3 between look-alike classes (stock and
# joint from the CLIP start; ../pretrained-regime-pairflip); and from scratch at 0.4 the
# stock model and the joint model with either text start. Every run at the family's
# schedule (from ../schedule-pretrained), 3 seeds, test split reported, validation kept.
#
# Resumable: every run is a row of results.json in its folder and is not trained again.
# Seed-major (every cell at seed 0 first), families interleaved.
#
#   bash studies/pretrained-regime/run.sh                  # from the repository root
#   FAMILIES="rtmdet" SEEDS="0" bash studies/pretrained-regime/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-studies/pretrained-regime}
PAIRS_OUT=${PAIRS_OUT:-studies/pretrained-regime-pairflip}
SEEDS=${SEEDS:-0 1 2}
FAMILIES=${FAMILIES:-faster-rcnn yolo11 rtmdet}
PAIRS="circle:hexagon square:cross triangle:star"
C=configs; A=configs/clip_joint/ablations

# family -> epochs, then its configs: pretrained stock, joint (CLIP), joint (random text),
# joint with a tenth of the gradient; scratch stock, joint (CLIP), joint (random text)
declare -A EPOCHS=([faster-rcnn]=${FRCNN_EPOCHS:-12} [yolo11]=${YOLO11_EPOCHS:-24}
                   [rtmdet]=${RTMDET_EPOCHS:-12} [yolox]=${YOLOX_EPOCHS:-12})
configs() {
  case $1 in
    faster-rcnn) echo "$C/faster_rcnn/faster-rcnn_r18-slim-crops-pre_fpn_8e_shapes.py
      $C/clip_joint/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-end-to-end_8e_shapes.py
      $A/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-random-text_8e_shapes.py
      $A/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint-grad-scale-0.1_8e_shapes.py
      $C/faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py
      $C/clip_joint/faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py
      $A/faster-rcnn_r18-slim_fpn_clip-joint-random-text_12e_shapes.py" ;;
    yolo11) echo "$C/yolo11/yolo11_n_crops-pre_24e_shapes.py
      $C/clip_joint/yolo11_n_crops-pre_clip-joint_24e_shapes.py
      $A/yolo11_n_crops-pre_clip-joint-random-text_24e_shapes.py
      $A/yolo11_n_crops-pre_clip-joint-grad-scale-0.1_24e_shapes.py
      $C/yolo11/yolo11_n_24e_shapes.py
      $C/clip_joint/yolo11_n_clip-joint_24e_shapes.py
      $A/yolo11_n_clip-joint-random-text_24e_shapes.py" ;;
    rtmdet|yolox) local t=${1}_tiny e=12e; echo "$C/$1/${t}_crops-pre_${e}_shapes.py
      $C/clip_joint/${t}_crops-pre_clip-joint_${e}_shapes.py
      $A/${t}_crops-pre_clip-joint-random-text_${e}_shapes.py
      $A/${t}_crops-pre_clip-joint-grad-scale-0.1_${e}_shapes.py
      $C/$1/${t}_${e}_shapes.py
      $C/clip_joint/${t}_clip-joint_${e}_shapes.py
      $A/${t}_clip-joint-random-text_${e}_shapes.py" ;;
  esac
}
study() {  # family seed out noise-args... -- configs...
  local family=$1 seed=$2 out=$3; shift 3
  local args=(); while [ "$1" != -- ]; do args+=("$1"); shift; done; shift
  $PY tools/study.py --configs "$@" --family "$family" --seeds "$seed" \
    --epochs "${EPOCHS[$family]}" --out "$out" "${args[@]}"
}
for seed in $SEEDS; do
  for family in $FAMILIES; do
    read -r -d '' S J R G S0 J0 R0 < <(configs "$family"; printf '\0') || true
    study "$family" "$seed" "$OUT" --noise 0 0.4 -- "$S" "$R" "$J"
    study "$family" "$seed" "$PAIRS_OUT" --noise 0.3 --noise-pairs $PAIRS -- "$S" "$J"
    study "$family" "$seed" "$OUT" --noise 0.4 -- "$S0" "$R0" "$J0" "$G"
  done
done
