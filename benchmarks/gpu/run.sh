#!/usr/bin/env bash
# The prepared GPU check (benchmarks/gpu/check.py) on the lent machine: installs the stack
# from the wheels carried in .whl/ (tools/offline_stack.sh), runs every step within
# SECONDS (default 540: 9 minutes), and copies its results to $OUT when that is set.
#   bash benchmarks/gpu/run.sh [SECONDS] [check.py options]       # from the repository root
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-540}"; shift || true
start=$SECONDS
source tools/offline_stack.sh || exit 1
left=$(( seconds - (SECONDS - start) - 5 ))
"$PY" benchmarks/gpu/check.py --deadline-s "$left" "$@"
status=$?
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null || true
if [[ -n "${OUT:-}" ]]; then
    cp benchmarks/gpu/results.json benchmarks/gpu/results.md "$OUT"/ 2>/dev/null
    cp work_dirs/gpu_check/*.log "$OUT"/ 2>/dev/null
fi
exit $status
