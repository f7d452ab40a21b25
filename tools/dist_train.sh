#!/usr/bin/env bash
# Multi-process training (one process per GPU) through torchrun and mmengine's
# launcher, like MMDetection's tools/dist_train.sh:
#   bash tools/dist_train.sh CONFIG NUM_PROCESSES [tools/train.py options]
# On machines without CUDA, tools/train.py runs the processes on the CPU with gloo.
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-$HERE/../.venv/bin/python}
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "${@:3}"
