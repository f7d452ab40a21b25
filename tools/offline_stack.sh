#!/usr/bin/env bash
# Install the OpenMMLab stack on a machine without a package registry (the lent GPU
# machine) from the wheels carried in .whl/ (built here by tools/build_offline_wheels.sh),
# then check it. Sourced by the GPU scripts:
#   source tools/offline_stack.sh        # sets PY and PYTHONPATH, or exits non-zero
# PYTHON names the interpreter (default python3: the machine's, with its CUDA torch).
PY="${PYTHON:-python3}"
SITE="${OFFLINE_SITE:-/tmp/site}"
if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "offline_stack: no wheels in .whl/; build them with tools/build_offline_wheels.sh" \
         "on a machine with a registry and carry .whl with the working tree" >&2
    return 1 2>/dev/null || exit 1
fi
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl || { return 1 2>/dev/null || exit 1; }
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1
export PY
"$PY" benchmarks/gpu/stack_check.py || { return 1 2>/dev/null || exit 1; }
