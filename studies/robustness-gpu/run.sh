#!/usr/bin/env bash
# How studies/robustness-gpu was made: tools/study.py on a lent machine with one GPU
# (NVIDIA H200), 16 cores, python3.12 with torch 2.11.0+cu130, and no package registry.
#
# The OpenMMLab stack travels as wheels in .whl/ (git-ignored; tools/build_offline_wheels.sh
# builds them as below; tools/offline_stack.sh installs and checks them there):
#   - mmcv 2.1.0 with its CUDA ops, built on a CPU machine with nvcc 13.0 against that
#     torch (no GPU is needed to compile; only sm_90 to keep it small):
#       python3.12 -m venv v312 && v312/bin/pip install "setuptools<81" wheel ninja numpy \
#         torch==2.11.0
#       cd mmcv-2.1.0 && CUDA_HOME=/usr/local/cuda-13.0 FORCE_CUDA=1 \
#         TORCH_CUDA_ARCH_LIST=9.0 ../v312/bin/python setup.py bdist_wheel
#   - the pure-Python rest, for cp312: pip download --no-deps mmengine==0.10.7
#     mmdet==3.3.0 open_clip_torch==3.3.0 pycocotools==2.0.11 addict ftfy wcwidth yapf
#     platformdirs termcolor terminaltables shapely "setuptools<81"
#
# Usage (from the repository root, on that machine; PYTHON names another interpreter):
#   bash studies/robustness-gpu/run.sh SECONDS [study.py arguments]
# Runs the study until SECONDS have passed (it is resumable: a later call with the same
# --out continues; a run cut short is started again), then writes its table and figures
# and copies them to $OUT when that is set.
set -uo pipefail
seconds="$1"; shift
start=$SECONDS
source tools/offline_stack.sh || exit 1  # the wheels in .whl/, checked
# In a process group of its own, so that stopping it stops its runs and nothing else.
setsid "$PY" tools/study.py "$@" &
study=$!
while kill -0 $study 2>/dev/null && (( SECONDS - start < seconds )); do sleep 5; done
if kill -0 $study 2>/dev/null; then
    echo "run.sh: ${seconds}s passed; stopping the study (finished runs are saved)"
    kill -- -$study; sleep 2
    wait $study
    # A finished study wrote its table and figures itself; a stopped one, here.
    "$PY" tools/study.py "$@" --report-only
fi
wait $study
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null || true
if [[ -n "${OUT:-}" ]]; then
    out=$("$PY" -c "import sys; a=sys.argv; print(a[a.index('--out')+1])" "$@" --out \
          studies/robustness)
    cp "$out"/{results.json,summary.txt,summary.md,map_vs_noise.png,per_class_ap.png} \
        "$OUT"/ 2>/dev/null
    tail -n 30 "$(ls -t "$out"/runs/*/train.log | head -1)" > "$OUT/last_train_log.txt"
fi
