#!/usr/bin/env bash
# Build .whl/: the wheels a machine without a package registry (the lent GPU machine:
# python3.12, torch 2.11.0+cu130 preinstalled) needs for this project's GPU scripts
# (benchmarks/gpu/run.sh, studies/robustness-gpu/run.sh). Run here, where PyPI is
# reachable and nvcc 13.0 is installed (no GPU is needed to compile):
#   bash tools/build_offline_wheels.sh            # all; DRY=1 prints the commands
#   SKIP_MMCV=1 bash tools/build_offline_wheels.sh  # only the pure-Python wheels
# then carry .whl (git-ignored) with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
WHL=.whl
PY312=${PY312:-python3.12}
TORCH=${TORCH:-2.11.0}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda-13.0}
run() { echo "+ $*"; [[ -n "${DRY:-}" ]] || "$@"; }
run mkdir -p "$WHL"
# Pure-Python wheels for cp312, no dependencies resolved (the machine has numpy, torch,
# opencv, pillow, matplotlib, scipy): the OpenMMLab stack at this project's pins, what
# it imports that such a machine may lack, and Ultralytics for the comparisons.
run "$PY312" -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d "$WHL" \
    mmengine==0.10.7 mmdet==3.3.0 open_clip_torch==3.3.0 pycocotools==2.0.11 \
    addict ftfy wcwidth yapf platformdirs termcolor terminaltables shapely \
    "setuptools<81" psutil ultralytics==8.4.190 ultralytics-thop py-cpuinfo polars \
    polars-runtime-32
if [[ -z "${SKIP_MMCV:-}" ]]; then
    # mmcv 2.1.0 with its CUDA ops, against the machine's torch, for sm_90 (H100/H200).
    build=$(mktemp -d)
    run "$PY312" -m venv "$build/venv"
    run "$build/venv/bin/pip" install -q "setuptools<81" wheel ninja numpy "torch==$TORCH"
    run "$build/venv/bin/pip" download --no-deps --no-binary=:all: -d "$build" mmcv==2.1.0
    run tar -xzf "$build/mmcv-2.1.0.tar.gz" -C "$build"
    run env -C "$build/mmcv-2.1.0" CUDA_HOME="$CUDA_HOME" FORCE_CUDA=1 \
        TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS="$(nproc)" "$build/venv/bin/python" setup.py \
        bdist_wheel -d "$PWD/$WHL"
fi
[[ -n "${DRY:-}" ]] || ls -la "$WHL"
